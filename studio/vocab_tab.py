"""The Vocabulary tab: learn Traditional Chinese tokens from corpora or files as a ``vocab`` job, then show
what the extension buys (tokens per character, initial loss per character by initialisation), the
efficiency plot, and a searchable list of the new tokens with the pieces each replaces.

Learning runs in a worker process like any job (its progress also shows in the Jobs tab); this tab only
submits it, follows it, and reads the finished tokenizer folder from ``<workspace>/tokenizers/``. The
folder's path is what a run config's ``vocab.tokenizer`` takes.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import gradio as gr

from core.config import VocabConfig
from core.errors import ConfigError
from core.vocab import META_FILE, read_meta
from core.vocab_report import efficiency_svg, new_token_table, read_report
from jobs.models import FINISHED
from jobs.scheduler import start_detached
from jobs.store import JobStore
from studio.i18n import T
from studio.messages import as_message
from studio.uploads import add_uploads

POLL_S = 2.0
SHOWN_TOKENS = 500
INITS = list(typing.get_args(VocabConfig.model_fields["init"].annotation))
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def tokenizers_dir(store: JobStore) -> Path:
    return store.workspace.root / "tokenizers"


def tokenizer_folders(store: JobStore) -> list[str]:
    root = tokenizers_dir(store)
    found = sorted((p for p in root.glob("*") if (p / META_FILE).is_file()), key=lambda p: p.stat().st_mtime, reverse=True)
    return [p.name for p in found]


def report_markdown(folder: Path) -> str:
    meta, report = read_meta(folder), read_report(folder) or {}
    extra = (f"{meta['new_characters']:,} of them characters the SentencePiece base read as bytes"
             if meta.get("new_characters") else f"+{meta['byte_tokens']} bytes the base lacked")
    lines = [f"**{folder.name}** — `{folder}` (use as `vocab.tokenizer`)", "",
             f"- new tokens: **{meta['learned_tokens']:,}** learned ({extra}); "
             f"vocabulary {meta['base_vocab_size']:,} → {meta['vocab_size']:,}"]
    if report:
        lines.append(f"- held-out tokens per character: base **{report['tokens_per_char_base']}** → extended "
                     f"**{report['tokens_per_char']}** ({report['reduction']}× fewer) on {report['characters']:,} characters")
    nats = report.get("nats_per_char") or {}
    if nats:
        lines += ["", f"Initial loss on {report.get('eval_characters', 0):,} held-out characters (nats per character):", "",
                  "| " + " | ".join(nats) + " |", "|" + "---|" * len(nats), "| " + " | ".join(str(v) for v in nats.values()) + " |"]
    return "\n".join(lines)


def token_rows(folder: Path, query: str = "") -> list[list[object]]:
    rows = new_token_table(read_meta(folder))
    if query:
        rows = [r for r in rows if query in r["text"] or any(query in p for p in r["pieces"])]
    return [[r["id"], r["text"], " + ".join(r["pieces"]), r["n_pieces"]] for r in rows[:SHOWN_TOKENS]]


def build_vocab(store: JobStore, tab: gr.Tab | None = None) -> None:
    workspace = store.workspace
    with gr.Row():
        with gr.Column(scale=3):
            sources = gr.Textbox("sample:tc_corpus", lines=3, label=T("vocab.sources"), elem_id="vocab-sources",
                                 info="corpus:NAME, sample:tc_corpus or file paths, one per line")
            upload = gr.File(label=T("vocab.upload"), file_count="multiple", file_types=[".txt", ".jsonl", ".json", ".csv", ".parquet"])
        with gr.Column(scale=2):
            name = gr.Textbox("tc-vocab", label=T("vocab.name"), elem_id="vocab-name")
            base_model = gr.Textbox("default", label=T("vocab.base_model"), elem_id="vocab-base-model")
            with gr.Row():
                new_tokens = gr.Number(2000, precision=0, label=T("vocab.new_tokens"), elem_id="vocab-new-tokens")
                min_frequency = gr.Number(2, precision=0, minimum=1, label=T("vocab.min_frequency"), elem_id="vocab-min-frequency")
    with gr.Row():
        inits = gr.CheckboxGroup(INITS, value=[], label=T("vocab.inits"), elem_id="vocab-inits",
                                 info="measuring loss loads the base model once per strategy (slow on a CPU)")
        warmup_steps = gr.Number(0, precision=0, minimum=0, label=T("vocab.warmup_steps"), elem_id="vocab-warmup-steps")
        eval_chars = gr.Number(4000, precision=0, minimum=100, label=T("vocab.eval_chars"), elem_id="vocab-eval-chars")
    learn = gr.Button(T("vocab.learn"), variant="primary", elem_id="vocab-learn")
    status = gr.Markdown(elem_id="vocab-status")
    job_id = gr.State(None)
    with gr.Row():
        chosen = gr.Dropdown(tokenizer_folders(store), label=T("vocab.tokenizers"), elem_id="vocab-select", scale=3)
        refresh = gr.Button(T("refresh"), scale=1)
    summary = gr.Markdown(elem_id="vocab-report")
    plot = gr.HTML(elem_id="vocab-plot")
    query = gr.Textbox(label=T("vocab.search"), elem_id="vocab-search")
    tokens = gr.Dataframe(headers=["id", "token", "pieces it replaces", "pieces"], interactive=False, elem_id="vocab-tokens",
                          label=T("vocab.tokens"))

    @as_message
    def add_files(files, current):
        return add_uploads(workspace, files, current)

    upload.upload(add_files, [upload, sources], sources)

    @as_message
    def submit(sources_text, name_text, base, count, frequency, chosen_inits, steps, chars):
        refs = [line.strip() for line in (sources_text or "").splitlines() if line.strip()]
        if not refs:
            raise ConfigError("vocab: give at least one corpus or file to learn from")
        if not _NAME.match(name_text or ""):
            raise ConfigError("vocab name: letters, digits, '.', '_' or '-' (up to 64)")
        if count is None or int(count) <= 0:
            raise ConfigError(f"vocab.new_tokens: must be at least 1 (got {count})")
        out = tokenizers_dir(store) / name_text
        payload = {"sources": refs, "out": str(out), "new_tokens": int(count), "min_frequency": int(frequency or 2),
                   "base_model": (base or "default").strip(), "inits": list(chosen_inits or []),
                   "warmup_steps": int(steps or 0), "eval_chars": int(chars or 4000)}
        job = store.submit_task("vocab", f"vocab {name_text}", payload, output_dir=out)
        start_detached(workspace)
        return job.id, f"⏳ queued job {job.id}: learning {int(count):,} tokens into `{out}`"

    learn.click(submit, [sources, name, base_model, new_tokens, min_frequency, inits, warmup_steps, eval_chars], [job_id, status])

    def show(folder_name, search=""):
        if not folder_name:
            return "", "", []
        folder = tokenizers_dir(store) / folder_name
        return report_markdown(folder), efficiency_svg(read_report(folder) or {}), token_rows(folder, search or "")

    def follow(current):
        if current is None:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        job = store.get(current)
        if job.status not in {s.value for s in FINISHED}:
            step = f" ({job.step}/{job.total_steps})" if job.total_steps else ""
            return current, f"⏳ job {job.id} {job.status}{step}", gr.update(), gr.update(), gr.update(), gr.update()
        if job.status != "succeeded":
            reason = (job.error or job.status).strip().splitlines()[0]
            return None, f"❌ job {job.id} {job.status}: {reason}", gr.update(), gr.update(), gr.update(), gr.update()
        folder_name = Path(job.output_dir).name
        text, svg, rows = show(folder_name)
        return (None, f"✅ job {job.id} finished", gr.update(choices=tokenizer_folders(store), value=folder_name), text, svg, rows)

    gr.Timer(POLL_S).tick(follow, job_id, [job_id, status, chosen, summary, plot, tokens], show_progress="hidden")
    chosen.change(as_message(show), [chosen, query], [summary, plot, tokens])
    query.submit(as_message(show), [chosen, query], [summary, plot, tokens])
    refresh.click(lambda: gr.update(choices=tokenizer_folders(store)), None, chosen)
