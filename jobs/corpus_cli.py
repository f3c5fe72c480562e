"""``bailong corpus ...``: import, list, inspect, export, rename and delete workspace corpora.

``import`` runs in the foreground with a progress bar (no scheduler involved) and registers the corpus
in the database like a corpus job does. Every command takes ``--home`` and ``--json``; errors are one
line (exit status 2) and an interrupted import leaves nothing behind.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli import command_adder, print_result
from core.corpus_clean import Pipeline


def _store(args: argparse.Namespace):
    from jobs.store import open_store

    return open_store(args.home)


def _pipeline(args: argparse.Namespace) -> dict[str, Any]:
    return {"convert": args.convert, "dedup": args.dedup, "min_chars": args.min_chars, "max_chars": args.max_chars,
            "scrub_pii": args.scrub_pii, "drop_simplified": args.drop_simplified,
            "language_filter": not args.keep_all_languages}


def _import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from jobs.corpora import import_corpus, summary_line

    store = _store(args)
    bar = tqdm(total=1, unit="B", unit_scale=True, dynamic_ncols=True, disable=args.json or not sys.stderr.isatty(),
               file=sys.stderr)

    def progress(done: int, total: int, message: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message.split(", ")[-1], refresh=False)
        bar.refresh()

    try:
        manifest = import_corpus(store, args.files, args.name, _pipeline(args), on_bad=args.bad_records,
                                 tokenizer=args.tokenizer, progress=progress)
    except KeyboardInterrupt:
        print("interrupted; nothing was kept", file=sys.stderr)
        return 130
    finally:
        bar.close()
    print_result(args, manifest, summary_line(manifest))
    return 0


def _list(args: argparse.Namespace) -> int:
    from jobs.corpora import list_corpora

    rows = list_corpora(_store(args))
    lines = [f"{c.name:<24} {c.kind:<13} {c.rows:>10,} rows {c.chars:>13,} chars  {c.created_at:%Y-%m-%d %H:%M}" for c in rows]
    print_result(args, [c.as_dict() for c in rows], "\n".join(lines) or "no corpora")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from core.corpus_store import load_manifest

    manifest = load_manifest(_store(args).workspace.corpora, args.name)
    stats, counts = manifest["stats"], manifest["counts"]
    shares = stats["script_shares"]
    lines = [
        f"{manifest['name']}: {manifest['kind']}, {manifest['rows']:,} rows, {manifest['chars']:,} chars, sha256 {manifest['sha256'][:12]}",
        f"scripts: TC-only {shares['tc']:.1%}, SC-only {shares['sc']:.1%}, shared CJK {shares['shared_cjk']:.1%}, "
        f"English {shares['en']:.1%}, other {shares['other']:.1%}; SC-leak rate {stats['sc_leak_rate']:.2%} of rows",
        "pipeline: " + ", ".join(f"{k}={v}" for k, v in manifest["pipeline"].items()),
        "counts: " + ", ".join(f"{k}={v:,}" for k, v in sorted(counts.items())),
    ]
    if "tokens" in stats:
        lines.append(f"tokens: {stats['tokens']:,}{' (estimated)' if stats['tokens_estimated'] else ''}, "
                     f"{stats['tokens_per_char']:.3f} per char")
    lines.append("top bigrams: " + " ".join(f"{g}({n})" for g, n in stats["top_bigrams"][:10]))
    print_result(args, manifest, "\n".join(lines))
    return 0


def _export(args: argparse.Namespace) -> int:
    from core.corpus_store import export_corpus

    rows = export_corpus(_store(args).workspace.corpora, args.name, args.out)
    print_result(args, {"name": args.name, "out": args.out, "rows": rows}, f"wrote {rows:,} rows to {args.out}")
    return 0


def _rename(args: argparse.Namespace) -> int:
    from jobs.corpora import rename

    rename(_store(args), args.old, args.new)
    print_result(args, {"old": args.old, "new": args.new}, f"renamed corpus {args.old} to {args.new}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from jobs.corpora import delete_corpus

    delete_corpus(_store(args), args.name)
    print_result(args, {"deleted": args.name}, f"deleted corpus {args.name}")
    return 0


def register(subparsers) -> None:
    corpus = subparsers.add_parser("corpus", help="import, clean and inspect training corpora")
    sub = corpus.add_subparsers(dest="corpus_command", required=True)

    command = command_adder(sub)

    fields = Pipeline.model_fields
    imp = command("import", "import files (.txt .jsonl .json .csv .parquet .zip) as a named corpus", _import)
    imp.add_argument("files", nargs="+")
    imp.add_argument("--name", required=True, help="corpus name, used as corpus:NAME in data.train")
    imp.add_argument("--convert", choices=["s2twp", "s2t", "none"], default="s2twp", help=fields["convert"].description)
    imp.add_argument("--dedup", nargs="?", const="near", default="exact", choices=["none", "exact", "near"],
                     help="duplicate removal; bare --dedup means near duplicates too (default: exact)")
    imp.add_argument("--min-chars", type=int, default=fields["min_chars"].default, help=fields["min_chars"].description)
    imp.add_argument("--max-chars", type=int, default=fields["max_chars"].default, help=fields["max_chars"].description)
    imp.add_argument("--scrub-pii", action="store_true", help=fields["scrub_pii"].description)
    imp.add_argument("--drop-simplified", action="store_true", help=fields["drop_simplified"].description)
    imp.add_argument("--keep-all-languages", action="store_true", help="do not drop rows that are neither Chinese nor English")
    imp.add_argument("--bad-records", choices=["skip", "fail"], default="skip",
                     help="malformed JSON lines / records: skip and count them, or stop the import")
    imp.add_argument("--tokenizer", help="count tokens with this base model's tokenizer ('default' or a model folder)")
    command("list", "corpora in the workspace", _list)
    command("stats", "what is in a corpus", _stats).add_argument("name")
    export = command("export", "write a corpus to .jsonl, .parquet or .txt", _export)
    export.add_argument("name")
    export.add_argument("--out", required=True)
    rename = command("rename", "rename a corpus", _rename)
    rename.add_argument("old")
    rename.add_argument("new")
    command("delete", "delete a corpus and its files", _delete).add_argument("name")
