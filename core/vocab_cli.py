"""``bailong vocab learn|report``: extend a tokenizer with Traditional Chinese tokens and measure the gain.

Plugged into the core CLI through the ``bailong.commands`` entry point; it needs no database. ``learn``
writes an extended tokenizer folder (usable as ``vocab.tokenizer`` in a run config) with its token list,
a held-out slice and the tokens-per-character report; ``report`` adds the initial loss in nats per
character for the base model and each initialisation. ``--json`` output is a public contract.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from core.cli import print_result


def _say(args: argparse.Namespace):
    import sys

    return None if args.json else (lambda message: print(message, file=sys.stderr, flush=True))


def _learn(args: argparse.Namespace) -> int:
    from core.models import load_tokenizer, resolve_model
    from core.vocab import learn_vocab
    from core.vocab_report import report_for_folder
    from core.workspace import resolve_home

    started = time.perf_counter()
    workspace = resolve_home(args.home)
    tokenizer = load_tokenizer(resolve_model(args.base_model, workspace), workspace)
    _, meta = learn_vocab(args.corpus, tokenizer, Path(args.out), new_tokens=args.new_tokens, min_frequency=args.min_frequency,
                          base_model=args.base_model, base_dir=Path.cwd(), workspace=workspace, progress=_say(args))
    report = report_for_folder(args.out, workspace) if meta["held_out_documents"] else {}
    data = {
        "out": str(Path(args.out).resolve()), "learned_tokens": meta["learned_tokens"], "byte_tokens": meta["byte_tokens"],
        "vocab_size": meta["vocab_size"], "base_vocab_size": meta["base_vocab_size"],
        "held_out_documents": meta["held_out_documents"], "seconds": round(time.perf_counter() - started, 2),
        **{k: report.get(k) for k in ("tokens_per_char_base", "tokens_per_char", "reduction")},
    }
    print_result(args, data, f"learned {data['learned_tokens']:,} tokens into {data['out']} (vocabulary {data['vocab_size']:,}); "
                       f"held-out tokens/char {data['tokens_per_char_base']} -> {data['tokens_per_char']}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from core.vocab import documents_from_refs
    from core.vocab_report import report_for_folder
    from core.workspace import resolve_home

    if args.warmup_steps < 0:
        raise ConfigError(f"--warmup-steps: must be 0 or more (got {args.warmup_steps})")
    workspace = resolve_home(args.home)
    docs = documents_from_refs([args.text], Path.cwd(), workspace) if args.text else None
    inits = [i.strip() for i in args.inits.split(",") if i.strip()]
    report = report_for_folder(args.tokenizer, workspace, text_docs=docs, inits=inits, warmup_steps=args.warmup_steps,
                               eval_chars=args.eval_chars, device=args.device, base_model=args.base_model,
                               progress=_say(args))
    report.pop("per_document", None)
    lines = [f"tokens/char: base {report['tokens_per_char_base']} -> extended {report['tokens_per_char']} "
             f"({report['reduction']}x fewer)"]
    lines += [f"nats/char {name}: {value}" for name, value in report.get("nats_per_char", {}).items()]
    print_result(args, report, "\n".join(lines))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    vocab = subparsers.add_parser("vocab", help="learn Traditional Chinese tokens and measure the extended tokenizer")
    sub = vocab.add_subparsers(dest="vocab_command", required=True)

    learn = sub.add_parser("learn", help="learn new tokens from corpora and save an extended tokenizer folder")
    learn.add_argument("--corpus", action="append", required=True, help="a text/data file or corpus:NAME (repeatable)")
    learn.add_argument("--new-tokens", type=int, default=20000, help="how many tokens to learn (default 20000)")
    learn.add_argument("--min-frequency", type=int, default=2, help="a new token joins pieces seen together this often")
    learn.add_argument("--out", required=True, help="folder for the extended tokenizer")
    learn.add_argument("--base-model", default="default", help="whose tokenizer to extend (default: the embedded model)")
    learn.set_defaults(func=_learn)

    report = sub.add_parser("report", help="tokens/char and initial loss (nats/char) per initialisation")
    report.add_argument("--tokenizer", required=True, help="an extended tokenizer folder from 'vocab learn'")
    report.add_argument("--text", help="held-out text to measure on (default: the slice kept out while learning)")
    report.add_argument("--inits", default="ziptie,mean,random", help="comma-separated strategies (empty: tokens only)")
    report.add_argument("--warmup-steps", type=int, default=0, help="also measure each init after N new-rows-only steps")
    report.add_argument("--eval-chars", type=int, default=20000, help="characters of text the loss is measured on")
    report.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    report.add_argument("--base-model", default=None, help="override the base model recorded with the tokenizer")
    report.set_defaults(func=_report)

    for command in (learn, report):
        command.add_argument("--home", help="workspace folder (default: $BAILONG_HOME or ~/.bailong-studio)")
        command.add_argument("--json", action="store_true", help="print the result as JSON")
