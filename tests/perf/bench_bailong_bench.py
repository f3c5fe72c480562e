"""Bailong-bench answer generation: batched (``ChatEngine.generate_batch``) against one conversation at a time.

Both answer the bundled benchmark with the default model, greedily, through the same ``answer_items`` the
pipeline uses (multi-turn items answered turn by turn). Batched answers the whole benchmark; one-by-one
answers a stratified subset (every ``STRIDE``-th item in prompt-length order, so short, long and
multi-turn items are all in it) and is extrapolated to the whole benchmark by the number of answer turns.
Both legs run in this process, one after the other, under ``/tmp/bailong-bench.lock`` so no other
benchmark overlaps. ``BAILONG_BENCH_TOKENS`` sets max_new_tokens (default 32, so ``make perf``
stays a few minutes on a CPU) and ``BAILONG_BENCH_STRIDE`` the subset's stride (default 12); the pipeline's default is
512, and the minutes for that are estimated from the measured per-token cost, which is said so in the output.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path("/tmp/bailong-bench.lock")
STRIDE = int(os.environ.get("BAILONG_BENCH_STRIDE", "12"))
BATCH = 16


def measure() -> dict:
    from core.bench_data import load_bench
    from core.bench_pipeline import ItemState, by_prompt_length, answer_items
    from core.inference import GenerationSettings, load_engine
    from core.model_spec import ModelSpec
    from core.workspace import resolve_home

    tokens = int(os.environ.get("BAILONG_BENCH_TOKENS", "32"))
    workspace = resolve_home(os.environ.get("BAILONG_PERF_HOME") or ROOT / ".perf-home")
    engine = load_engine(ModelSpec(name="default", base_model="default"), workspace)
    questions = load_bench(None)
    items = by_prompt_length([ItemState(q.id, q.category, q.language, list(q.turns),
                                         [q.expected_for_turn(t) for t in range(len(q.turns))]) for q in questions])
    settings = GenerationSettings(temperature=0.0, max_new_tokens=tokens)
    answer_items(engine, items[:2], GenerationSettings(temperature=0.0, max_new_tokens=4), batch_size=2)  # warm-up

    started = time.perf_counter()
    batched = answer_items(engine, items, settings, batch_size=BATCH)
    batched_s = time.perf_counter() - started
    print(f"batched: {len(items)} items in {batched_s:.1f} s", file=sys.stderr, flush=True)

    subset = items[::STRIDE]
    started = time.perf_counter()
    single = answer_items(engine, subset, settings, batch_size=1)
    single_subset_s = time.perf_counter() - started
    turns_all = sum(len(i.turns) for i in items)
    turns_subset = sum(len(i.turns) for i in subset)
    single_s = single_subset_s / turns_subset * turns_all

    agree = sum(a == b for a, b in zip(single, [batched[items.index(i)] for i in subset]))
    return {
        "items": len(items), "answer_turns": turns_all, "max_new_tokens": tokens, "batch_size": BATCH,
        "batched_s": round(batched_s, 1), "batched_min": round(batched_s / 60, 2),
        "one_by_one_subset_items": len(subset), "one_by_one_subset_s": round(single_subset_s, 1),
        "one_by_one_extrapolated_s": round(single_s, 1), "one_by_one_extrapolated_min": round(single_s / 60, 2),
        "speedup": round(single_s / batched_s, 2),
        "batched_min_at_512_tokens_estimate": round(batched_s / 60 * 512 / tokens, 1),
        "subset_answers_identical_batched_vs_single": f"{agree}/{len(subset)}",
        "device": str(engine.device),
    }


def main() -> None:
    LOCK.touch(exist_ok=True)
    with LOCK.open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # benchmarks never overlap; timings taken without the lock mean nothing
        result = measure()
    print(json.dumps(result, indent=1))
    print(f"answer generation, whole bundled bench ({result['items']} items, {result['answer_turns']} turns, "
          f"max_new_tokens {result['max_new_tokens']}, {result['device']}): batched {result['batched_min']} min, "
          f"one-by-one {result['one_by_one_extrapolated_min']} min (extrapolated from {result['one_by_one_subset_items']} items) "
          f"-> {result['speedup']}x (target >= 3x)")


if __name__ == "__main__":
    main()
