"""Benchmark leg: our engine doing the shared benchmark work, with our default settings.

Why: the harness compares engines by running each in its own process on the same model, text and
hyper-parameters. This leg runs ``core.train.train`` exactly as a user's run config would (defaults for
everything the benchmark does not fix, e.g. ``grad_checkpointing: auto``) and prints one JSON line:
tokens/s over the training loop (model loading excluded, as ``train_runtime`` excludes it for the
Trainer-based legs), the final loss and this process's peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rss import PeakRSS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="workspace holding the converted default model")
    ap.add_argument("--text", required=True, help=".txt (pre-training) or .jsonl conversations (SFT)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--stage", default="pretrain", choices=["pretrain", "sft"])
    ap.add_argument("--packing", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--grad-checkpointing", default="auto", choices=["auto", "true", "false"])
    args = ap.parse_args()

    from core.allocator import reexec_with_allocator

    reexec_with_allocator()  # what `bailong train` and the job workers do
    rss = PeakRSS().start()
    from core.config import parse_config
    from core.train import train
    from core.workspace import resolve_home

    checkpointing = {"auto": "auto", "true": True, "false": False}[args.grad_checkpointing]
    out = tempfile.mkdtemp(prefix="bench-bailong-")
    config = parse_config({
        "name": "bench", "base_model": "default", "stage": args.stage, "output_dir": out,
        "data": {"train": [args.text], "seq_len": args.seq_len, "packing": args.packing},
        "quant": {"bits": 4, "type": "nf4", "double_quant": True, "compute_dtype": "float32"},
        "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "targets": "all-linear", "embeddings": False},
        "train": {"max_steps": args.steps, "lr": 2e-4, "scheduler": "cosine", "warmup_ratio": 0.03,
                  "batch_size": args.batch, "grad_accum": 1, "seed": 42, "save_steps": 10_000,
                  "grad_checkpointing": checkpointing, "device": "cpu"},
    })
    result = train(config, resolve_home(args.home))
    summary = result.summary
    print(json.dumps({
        "leg": "bailong", "tokens_per_s": round(summary["tokens"] / summary["elapsed_s"], 2),
        "train_runtime_s": summary["elapsed_s"], "steps": summary["steps"], "tokens": summary["tokens"],
        "final_loss": summary["final_loss"], "checkpointed_layers": summary["checkpointed_layers"], "allocator": summary["allocator"],
        "peak_rss_gib": rss.stop(),
    }))


if __name__ == "__main__":
    main()
