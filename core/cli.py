"""The ``bailong`` command line.

Core commands (``train``, ``config``) live here. Other packages add their own command groups through
the ``bailong.commands`` entry-point group (each entry is a ``register(subparsers)`` function), so this
library never imports the job system or the studio. Errors the engine raises on purpose print as one
line and exit with status 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from core.errors import BailongError

PRESETS = Path(__file__).resolve().parent.parent / "assets" / "presets"


def _add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="workspace folder (default: $BAILONG_HOME or ~/.bailong-studio)")


def print_result(args: argparse.Namespace, data: Any, text: str) -> None:
    """``--json``: one JSON document (anything not JSON-native as its string); otherwise the human line."""
    print(json.dumps(data, ensure_ascii=False, default=str) if args.json else text)


def command_adder(sub: argparse._SubParsersAction):
    """``command(name, help, func)`` for a command group: each subcommand takes ``--home`` and ``--json``."""

    def command(name: str, help: str, func) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help)
        _add_home(parser)
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.set_defaults(func=func)
        return parser

    return command


def _train(args: argparse.Namespace) -> int:
    from core.allocator import reexec_with_allocator

    reexec_with_allocator()
    from tqdm import tqdm

    from core.config import load_config
    from core.train import train
    from core.workspace import resolve_home

    config = load_config(args.config)
    workspace = resolve_home(args.home)
    bar = None

    def on_log(record: dict) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=record["total_steps"], initial=record["step"] - 1, unit="step", dynamic_ncols=True)
        bar.n = record["step"]
        bar.set_postfix(loss=f"{record['loss']:.4f}", tok_s=f"{record['tokens_per_s']:.0f}", refresh=False)
        bar.refresh()

    interrupted = False

    def should_stop() -> bool:
        return interrupted

    try:
        result = train(config, workspace, config_dir=Path(args.config).resolve().parent, resume=args.resume,
                       on_log=on_log, should_stop=should_stop)
    except KeyboardInterrupt:
        print("interrupted; the last saved checkpoint can be resumed with --resume", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps({"run_dir": str(result.folder), **result.summary}))
    else:
        print(f"done: {result.steps} steps, final loss {result.final_loss}, adapter in {result.folder / 'adapter'}")
    return 0


def _config(args: argparse.Namespace) -> int:
    from core.config import RunConfig, dump_config, load_config

    if args.action == "validate":
        config = load_config(args.file)
        print(f"{args.file}: valid ({config.stage}, base_model={config.base_model})")
    elif args.action == "preset":
        print((PRESETS / f"{args.file}.yaml").read_text(encoding="utf-8"), end="")
    else:
        print(dump_config(RunConfig()), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bailong", description="Bailong Studio: teach English LLMs Traditional Chinese.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train in the foreground from a run config (YAML)")
    train.add_argument("config", help="run configuration file (see 'bailong config defaults')")
    train.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    train.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_home(train)
    train.set_defaults(func=_train)

    config = sub.add_parser("config", help="print defaults or a preset, or validate a config file")
    config.add_argument("action", choices=["defaults", "validate", "preset"])
    config.add_argument("file", nargs="?", help="the file to validate, or the preset name (bailong-pretrain, bailong-sft)")
    config.set_defaults(func=_config)

    for entry in entry_points(group="bailong.commands"):
        entry.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", module="bitsandbytes")
    try:
        return args.func(args)
    except BailongError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
