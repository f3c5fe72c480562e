"""``bailong studio``: launch the web UI (registered into the core CLI through an entry point)."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from studio.app import launch

    launch(home=args.home, host=args.host, port=args.port, inbrowser=args.inbrowser, auth=args.auth)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("studio", help="launch the Bailong Studio web UI")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--home", help="workspace folder (default: $BAILONG_HOME or ~/.bailong-studio)")
    parser.add_argument("--inbrowser", action="store_true", help="open a browser tab")
    parser.add_argument("--auth", help="user:password required to open the page; mandatory with a non-local --host")
    parser.set_defaults(func=_run)
