"""The ``vocab`` job kind: learn an extended tokenizer in a worker process and write its report.

Payload: ``{"sources": [refs], "out": folder, "new_tokens": int, "min_frequency": int, "base_model": str,
"inits": [names], "warmup_steps": int, "eval_chars": int}``. The folder is written atomically by
``core.vocab``; the report (tokens per character, and nats per character when ``inits`` is not empty)
is saved into it for the Vocabulary tab to show.
"""

from __future__ import annotations

from pathlib import Path

from jobs.tasks import TaskContext

STEPS = 3  # load the tokenizer, learn, measure


def run(ctx: TaskContext) -> str:
    from core.models import load_tokenizer, resolve_model
    from core.vocab import learn_vocab
    from core.vocab_report import report_for_folder

    payload = ctx.payload
    base_model = payload.get("base_model") or "default"
    ctx.progress(0, STEPS, f"loading the {base_model} tokenizer")
    tokenizer = load_tokenizer(resolve_model(base_model, ctx.workspace), ctx.workspace)
    ctx.progress(1, STEPS, "learning tokens")
    out = Path(payload["out"])
    _, meta = learn_vocab(payload["sources"], tokenizer, out, new_tokens=int(payload.get("new_tokens", 20000)),
                          min_frequency=int(payload.get("min_frequency", 2)), base_model=base_model,
                          workspace=ctx.workspace, progress=lambda m: print(m, flush=True))
    if ctx.should_stop():
        return "stopped after learning; the tokenizer is saved without a report"
    ctx.progress(2, STEPS, "measuring")
    report = {}
    if meta["held_out_documents"]:
        report = report_for_folder(out, ctx.workspace, inits=payload.get("inits") or [],
                                   warmup_steps=int(payload.get("warmup_steps", 0)),
                                   eval_chars=int(payload.get("eval_chars", 4000)), progress=lambda m: print(m, flush=True))
    ctx.progress(STEPS, STEPS, "done")
    ratio = f"; tokens/char {report['tokens_per_char_base']} -> {report['tokens_per_char']}" if report else ""
    return f"learned {meta['learned_tokens']:,} tokens into {out}{ratio}"
