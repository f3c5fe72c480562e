"""The studio page: Train, Jobs and History, over ``core`` (configs) and ``jobs`` (the job store).

The studio never trains and never imports torch: it submits jobs and reads their state from the
workspace database, so closing it leaves running jobs alone and reopening it shows them live again.
Opening the store migrates an older database to the current schema before anything is shown.
"""

from __future__ import annotations

import gradio as gr

from core.workspace import resolve_home
from jobs.store import JobStore
from studio.bench_tab import build_bench
from studio.chat_tab import build_chat
from studio.compare_tab import build_compare
from studio.corpus_tab import build_corpus
from studio.history_tab import build_history
from studio.i18n import I18N, T
from studio.jobs_tab import build_jobs, keep_queue_alive
from studio.train_tab import build_train
from studio.vocab_tab import build_vocab

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
CSS = """
.field-error p { color: var(--error-text-color, #c00); margin: 0; font-size: 0.9em; }
.jobs-table { width: 100%; border-collapse: collapse; }
.jobs-table td, .jobs-table th { padding: 2px 8px; text-align: left; border-bottom: 1px solid #ddd; }
.jobs-table progress { width: 120px; }
"""


def build_app(home: str | None = None) -> gr.Blocks:
    store = JobStore(resolve_home(home))
    keep_queue_alive(store)
    with gr.Blocks(title="Bailong Studio") as app:
        gr.Markdown(f"# Bailong Studio\n{T('workspace')}: `{store.workspace.root}`")
        with gr.Tabs() as tabs:
            with gr.Tab(T("tab.train"), id="train", elem_id="tab-train"):
                train = build_train(store)
            with gr.Tab(T("tab.jobs"), id="jobs", elem_id="tab-jobs") as jobs_tab:
                build_jobs(store, train, tabs, jobs_tab)
            with gr.Tab(T("tab.history"), id="history", elem_id="tab-history") as history:
                build_history(store, history)
            with gr.Tab(T("tab.chat"), id="chat", elem_id="tab-chat") as chat:
                build_chat(store, chat)
            with gr.Tab(T("tab.compare"), id="compare", elem_id="tab-compare") as compare:
                build_compare(store, compare)
            with gr.Tab(T("tab.corpus"), id="corpus", elem_id="tab-corpus") as corpus:
                build_corpus(store, corpus)
            with gr.Tab(T("tab.bench"), id="bench", elem_id="tab-bench") as bench:
                build_bench(store, bench)
            with gr.Tab(T("tab.vocab"), id="vocab", elem_id="tab-vocab") as vocab:
                build_vocab(store, vocab)
    app.store = store  # type: ignore[attr-defined]  # the launcher needs the workspace it opened
    return app


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        from core.errors import ConfigError

        raise ConfigError("--auth: expected user:password")
    return user, password


def launch(home: str | None, host: str, port: int, inbrowser: bool, auth: str | None = None) -> None:
    from core.errors import ConfigError

    credentials = parse_auth(auth)
    if host not in LOCAL_HOSTS and credentials is None:
        raise ConfigError(f"--host {host} makes the studio reachable from other machines; add --auth user:password")
    app = build_app(home)
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=host, server_port=port, inbrowser=inbrowser, auth=credentials, i18n=I18N, css=CSS,
               allowed_paths=[str(app.store.workspace.runs)], footer_links=["settings"], show_error=False)
