"""Inference benchmark on the default model: what our chat engine costs over a raw ``model.generate``.

Three figures, each against a baseline measured in the same run under ``/tmp/bailong-bench.lock``:
1. generation tokens/s through ``ChatEngine.generate`` vs the raw ``model.generate`` call with the same
   prompt ids and the same settings (Bailong's defaults, same seed, so the same tokens); target >= 0.95x;
2. streaming: time to the first streamed token and streamed tokens/s (reported, vs the raw rate);
3. ``generate_batch`` on 16 prompts vs the same 16 one by one (greedy); target >= 3x the throughput.
Raw and engine runs alternate so drifting machine load hits both sides alike; medians are reported.
"""
from __future__ import annotations

import fcntl
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path("/tmp/bailong-bench.lock")
REPEATS = 5
NEW_TOKENS = 64
BATCH = 16
BATCH_TOKENS = 32
QUESTION = "Write a detailed story about a dragon who learns to cook noodles in Taipei."
TOPICS = ["a lighthouse keeper", "a lost robot", "the night market", "a mountain train", "a tea farmer", "a street cat",
          "a typhoon night", "an old bookshop", "a kite festival", "a bubble tea shop", "a river ferry", "a temple bell",
          "a night bus", "a harbour crane", "a rice field", "a hot spring"]


def measure(home: Path) -> dict:
    import torch

    from core.inference import GenerationSettings, load_engine
    from core.model_spec import ModelSpec
    from core.workspace import resolve_home

    engine = load_engine(ModelSpec("default", "default"), resolve_home(home))
    model, tokenizer = engine.model, engine.tokenizer
    messages = [{"role": "user", "content": QUESTION}]
    settings = GenerationSettings(max_new_tokens=NEW_TOKENS, seed=0)
    ids = torch.tensor([tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]])
    raw_kwargs = dict(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
                      repetition_penalty=settings.repetition_penalty, max_new_tokens=NEW_TOKENS, pad_token_id=engine.pad_id)

    def raw() -> float:
        torch.manual_seed(0)
        started = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **raw_kwargs)
        return (out.shape[1] - ids.shape[1]) / (time.perf_counter() - started)

    def ours() -> float:
        started = time.perf_counter()
        reply = engine.generate(messages, settings)
        return reply.completion_tokens / (time.perf_counter() - started)

    def streamed() -> tuple[float, float]:
        started = time.perf_counter()
        stream = engine.stream(messages, settings)
        first = None
        for _ in stream:
            first = first or time.perf_counter() - started
        return first, stream.reply.completion_tokens / (time.perf_counter() - started)

    raw(), ours()  # warm-up: first calls pay for lazy initialisation
    raw_rates, our_rates, stream_rates, first_token = [], [], [], []
    for _ in range(REPEATS):
        raw_rates.append(raw())
        our_rates.append(ours())
        first, rate = streamed()
        first_token.append(first)
        stream_rates.append(rate)

    greedy = GenerationSettings(temperature=0, max_new_tokens=BATCH_TOKENS)
    conversations = [[{"role": "user", "content": f"Write a long story about {topic}."}] for topic in TOPICS[:BATCH]]
    started = time.perf_counter()
    single = [engine.generate(c, greedy) for c in conversations]
    single_s = time.perf_counter() - started
    started = time.perf_counter()
    batched = engine.generate_batch(conversations, greedy)
    batch_s = time.perf_counter() - started
    return {
        "raw_tok_s": statistics.median(raw_rates), "engine_tok_s": statistics.median(our_rates),
        "stream_tok_s": statistics.median(stream_rates), "first_token_s": statistics.median(first_token),
        "single_tok_s": sum(r.completion_tokens for r in single) / single_s,
        "batch_tok_s": sum(r.completion_tokens for r in batched) / batch_s,
        "batch_matches": sum(a.text == b.text for a, b in zip(single, batched)),
        "device": str(engine.device), "threads": torch.get_num_threads(),
    }


def main() -> None:
    home = Path(os.environ.get("BAILONG_PERF_HOME", ROOT / ".perf-home"))
    LOCK.touch(exist_ok=True)
    with LOCK.open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # benchmarks never overlap; timings taken without the lock mean nothing
        r = measure(home)
    engine_ratio = r["engine_tok_s"] / r["raw_tok_s"]
    batch_ratio = r["batch_tok_s"] / r["single_tok_s"]
    print(f"device {r['device']}, {r['threads']} threads, default model, {NEW_TOKENS} new tokens, median of {REPEATS}")
    print(f"generation: engine {r['engine_tok_s']:.1f} tok/s vs raw model.generate {r['raw_tok_s']:.1f} tok/s "
          f"({engine_ratio:.3f}x; target >= 0.95x: {'PASS' if engine_ratio >= 0.95 else 'FAIL'})")
    print(f"streaming: first token after {r['first_token_s'] * 1000:.0f} ms, {r['stream_tok_s']:.1f} tok/s "
          f"({r['stream_tok_s'] / r['engine_tok_s']:.3f}x the non-streamed engine; decoding runs in a worker thread)")
    print(f"batch of {BATCH}: {r['batch_tok_s']:.1f} tok/s vs one by one {r['single_tok_s']:.1f} tok/s "
          f"({batch_ratio:.2f}x; target >= 3x: {'PASS' if batch_ratio >= 3 else 'FAIL'}; "
          f"{r['batch_matches']}/{BATCH} greedy answers identical)")


if __name__ == "__main__":
    main()
