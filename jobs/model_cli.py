"""``bailong models list|add|remove``, ``bailong chat``, ``bailong serve`` and ``bailong export``: the model catalog from
a shell. They live beside the job system because names like ``job:NAME`` resolve through the database.
Unknown names and deleted job outputs are one-line errors (exit status 2) before any model loads.
"""

from __future__ import annotations

import argparse
import json
import sys

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
HOME_HELP = "workspace folder (default: $BAILONG_HOME or ~/.bailong-studio)"


def _resolve(args: argparse.Namespace):
    from jobs.catalog import resolve_model_spec
    from jobs.store import open_store

    store = open_store(args.home)
    try:
        return store.workspace, resolve_model_spec(store, args.model)
    finally:
        store.close()


def _settings(args: argparse.Namespace):
    from core.inference import GenerationSettings

    return GenerationSettings(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                              repetition_penalty=args.repetition_penalty, max_new_tokens=args.max_new_tokens).validate()


def _list(args: argparse.Namespace) -> int:
    from jobs.catalog import list_models
    from jobs.store import open_store

    store = open_store(args.home)
    specs = list_models(store)
    store.close()
    if args.json:
        print(json.dumps([{"name": s.name, "base_model": s.base_model, "adapter_dir": s.adapter_dir,
                           "checkpoint": s.checkpoint, "lineage": s.lineage} for s in specs], ensure_ascii=False))
    else:
        print("\n".join(f"{s.name:<40} {s.describe()}" for s in specs))
    return 0


def _add(args: argparse.Namespace) -> int:
    from jobs.catalog import add_model, remove_model
    from jobs.store import open_store

    store = open_store(args.home)
    try:
        if args.models_command == "add":
            print(f"added {add_model(store, args.model).name}")
        else:
            remove_model(store, args.model)
            print(f"removed {args.model}")
    finally:
        store.close()
    return 0


def _chat(args: argparse.Namespace) -> int:
    from core.inference import load_engine

    settings = _settings(args)
    workspace, spec = _resolve(args)
    print(f"loading {spec.name} ...", file=sys.stderr, flush=True)
    engine = load_engine(spec, workspace, load_in_4bit=args.load_in_4bit)
    system = [{"role": "system", "content": args.system}] if args.system else []
    history: list[dict[str, str]] = []
    print("type a message; /reset starts over, /exit quits", file=sys.stderr)
    while True:
        try:
            line = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        if line.strip() == "/exit":
            return 0
        if line.strip() == "/reset":
            history = []
            print("(conversation cleared)", file=sys.stderr)
            continue
        if not line.strip():
            continue
        conversation = system + history + [{"role": "user", "content": line}]
        stream = engine.stream(conversation, settings)
        if stream.dropped_turns:
            print(f"(the {stream.dropped_turns} oldest messages no longer fit the context and were left out)", file=sys.stderr)
        sys.stdout.write("bot> ")
        for delta in stream:
            sys.stdout.write(delta)
            sys.stdout.flush()
        reply = stream.reply
        print(f"\n({reply.completion_tokens} tokens, {reply.tokens_per_s:.1f} tokens/s)", file=sys.stderr, flush=True)
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": reply.text}]


def _serve(args: argparse.Namespace) -> int:
    from core.errors import ConfigError
    from core.inference import load_engine
    from core.serve import create_app, serve

    if args.host not in LOCAL_HOSTS and not args.api_key:
        raise ConfigError(f"--host {args.host} makes the API reachable from other machines; add --api-key KEY")
    workspace, spec = _resolve(args)
    app = create_app(spec.name, lambda: load_engine(spec, workspace, load_in_4bit=args.load_in_4bit), api_key=args.api_key)
    print(f"loading {spec.name} ...", file=sys.stderr, flush=True)
    app.engine()
    print(f"serving {spec.name} at http://{args.host}:{args.port}/v1", flush=True)
    serve(app, args.host, args.port)
    return 0


def _export(args: argparse.Namespace) -> int:
    from core.export import export_merged

    workspace, spec = _resolve(args)
    target = export_merged(spec, workspace, args.out)
    if args.json:
        print(json.dumps({"model": spec.name, "out": str(target)}))
    else:
        print(f"exported {spec.name} to {target}")
    return 0


def _add_generation_flags(parser: argparse.ArgumentParser) -> None:
    from core.inference import GenerationSettings

    defaults = GenerationSettings()
    parser.add_argument("--temperature", type=float, default=defaults.temperature, help="0 decodes greedily")
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--top-k", type=int, default=defaults.top_k)
    parser.add_argument("--repetition-penalty", type=float, default=defaults.repetition_penalty)
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)


def register(subparsers) -> None:
    def command(name: str, help: str, func) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=help)
        parser.add_argument("--home", help=HOME_HELP)
        parser.set_defaults(func=func)
        return parser

    models = subparsers.add_parser("models", help="the models you can chat with, compare, benchmark and serve")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    listing = models_sub.add_parser("list", help="every model in the catalog")
    listing.add_argument("--home", help=HOME_HELP)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=_list)
    for name, help in (("add", "remember a base model folder or hub id"), ("remove", "forget an added base model")):
        change = models_sub.add_parser(name, help=help)
        change.add_argument("model")
        change.add_argument("--home", help=HOME_HELP)
        change.set_defaults(func=_add)

    chat = command("chat", "chat with a model in the terminal (/reset, /exit)", _chat)
    chat.add_argument("model", help="a name from 'bailong models list' (default, job:NAME, job:NAME@step-N, a folder ...)")
    chat.add_argument("--system", help="system prompt")
    chat.add_argument("--4bit", dest="load_in_4bit", action="store_true", help="load the base in 4-bit NF4")
    _add_generation_flags(chat)

    serve = command("serve", "serve a model through an OpenAI-compatible API", _serve)
    serve.add_argument("model")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key", help="clients must send 'Authorization: Bearer KEY'; required with a non-local --host")
    serve.add_argument("--4bit", dest="load_in_4bit", action="store_true", help="load the base in 4-bit NF4")

    export = command("export", "merge a trained model's adapter into a full Hugging Face model folder", _export)
    export.add_argument("model", help="job:NAME or job:NAME@step-N (or any catalog name)")
    export.add_argument("--out", required=True, help="the new folder to write")
    export.add_argument("--json", action="store_true", help="machine-readable output")
