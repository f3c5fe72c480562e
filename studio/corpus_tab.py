"""The Corpus tab: upload files, choose the cleaning steps, preview them on a sample, import as a job, and
inspect, rename or delete the corpora in the workspace.

The option widgets are made from the fields of ``core.corpus_clean.Pipeline`` (choices, defaults and help
come from the model), so the tab, the CLI and the stored recipe cannot drift apart. A preview runs in the
studio process on the first rows only; the full import is a ``corpus`` job run by a worker, whose progress
shows here and in the Jobs tab. Pictures are inline SVG, like the Jobs tab's loss curve.
"""

from __future__ import annotations

import html
import typing
from pathlib import Path
from typing import Any

import gradio as gr

from core import corpus_build, corpus_store
from core.corpus_clean import Pipeline
from core.corpus_stats import char_diff
from core.errors import DataError
from core.svg_chart import empty_svg
from jobs import corpora
from jobs.models import Status
from jobs.scheduler import start_detached
from jobs.store import JobStore
from studio.i18n import T
from studio.messages import as_message
from studio.uploads import store_upload

REFRESH_S = 2.0
PREVIEW_ROWS = 200
SHOWN_PREVIEW_ROWS = 12
UPLOAD_TYPES = [".txt", ".jsonl", ".json", ".csv", ".parquet", ".zip"]
SCRIPT_COLOURS = {"tc": ("#2a7ab0", "TC-only"), "shared_cjk": ("#8fbcd9", "shared CJK"), "sc": ("#d9534f", "SC-only"),
                  "en": ("#5cb85c", "English"), "other": ("#aaaaaa", "other")}


def _pipeline_widgets() -> dict[str, gr.components.Component]:
    """One widget per ``Pipeline`` field: choices and numbers on one row, switches on the next."""
    widgets: dict[str, gr.components.Component] = {}
    fields = Pipeline.model_fields
    switches = [n for n, f in fields.items() if f.annotation is bool]
    with gr.Row(equal_height=False):
        _add_widgets(widgets, [n for n in fields if n not in switches])
    with gr.Row(equal_height=False):
        _add_widgets(widgets, switches)
    return {name: widgets[name] for name in fields}  # field order: values are zipped back by name


def _add_widgets(widgets: dict[str, gr.components.Component], names: list[str]) -> None:
    for name in names:
        field = Pipeline.model_fields[name]
        label, info, default = name, field.description, field.default
        if typing.get_origin(field.annotation) is typing.Literal:
            widgets[name] = gr.Radio(list(typing.get_args(field.annotation)), value=default, label=label, info=info,
                                     elem_id=f"corpus-{name}")
        elif field.annotation is bool:
            widgets[name] = gr.Checkbox(value=default, label=label, info=info, elem_id=f"corpus-{name}")
        elif field.annotation is float:
            widgets[name] = gr.Slider(0.5, 1.0, value=default, step=0.05, label=label, info=info, elem_id=f"corpus-{name}")
        else:
            widgets[name] = gr.Number(value=default, precision=0, minimum=0, label=label, info=info, elem_id=f"corpus-{name}")


def _paths(files) -> list[Path]:
    if not files:
        raise DataError("add one or more files first")
    return [Path(f if isinstance(f, str) else f.name) for f in files]


# -- pictures and tables (plain functions: testable without a browser) --------------------------------------

def shares_svg(shares: dict[str, float], width: int = 520, height: int = 46) -> str:
    parts = [f'<svg class="script-shares" width="{width}" height="{height}" font-size="11" font-family="sans-serif">']
    x = 0.0
    for key, (colour, label) in SCRIPT_COLOURS.items():
        w = shares.get(key, 0.0) * width
        if w > 0:
            parts.append(f'<rect class="share-{key}" x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{colour}">'
                         f"<title>{label} {shares[key]:.1%}</title></rect>")
        x += w
    x = 0.0
    for key, (colour, label) in SCRIPT_COLOURS.items():
        parts.append(f'<rect x="{x:.0f}" y="28" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14:.0f}" y="37" fill="#444">{label} {shares.get(key, 0.0):.1%}</text>')
        x += width / len(SCRIPT_COLOURS)
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(bins: list[dict[str, int]], width: int = 520, height: int = 200) -> str:
    if not bins:
        return empty_svg("length-histogram", width, 40, "no documents", x=8)
    pad_l, pad_b, pad_t = 44, 34, 10
    top = max(b["count"] for b in bins)
    bar = (width - pad_l) / len(bins)
    parts = [f'<svg class="length-histogram" width="{width}" height="{height}" font-size="10" font-family="sans-serif">',
             f'<text x="{pad_l - 6}" y="{pad_t + 8}" text-anchor="end" fill="#555">{top:,}</text>',
             f'<text x="{pad_l - 6}" y="{height - pad_b}" text-anchor="end" fill="#555">0</text>']
    for i, b in enumerate(bins):
        h = (height - pad_t - pad_b) * b["count"] / top
        x = pad_l + i * bar
        parts.append(f'<rect class="bin" x="{x + 1:.1f}" y="{height - pad_b - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                     f'fill="#2a7ab0"><title>{b["lo"]:,}–{b["hi"] - 1:,} chars: {b["count"]:,}</title></rect>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - pad_b + 12}" text-anchor="middle" fill="#555">{b["lo"]:,}</text>')
    parts.append(f'<text x="{pad_l + (width - pad_l) / 2:.0f}" y="{height - 6}" text-anchor="middle" fill="#555">'
                 "characters per document (log scale)</text></svg>")
    return "".join(parts)


def diff_html(before: str, after: str | None) -> str:
    if after is None:
        return f'<span class="dropped">{html.escape(before[:300])}</span>'
    out = []
    for text, tag in char_diff(before[:300], after[:300]):
        escaped = html.escape(text)
        out.append(f"<del>{escaped}</del>" if tag == "-" else f"<ins>{escaped}</ins>" if tag == "+" else escaped)
    return "".join(out)


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in sorted(counts.items()))


def stats_html(stats: dict[str, Any], counts: dict[str, int], title: str) -> str:
    tokens = ""
    if "tokens" in stats:
        tokens = (f"<li>tokens: {stats['tokens']:,}{' (estimated from a sample)' if stats['tokens_estimated'] else ''}, "
                  f"{stats['tokens_per_char']:.3f} per character</li>")
    grams = " ".join(f"{html.escape(g)}<sub>{n}</sub>" for g, n in stats.get("top_bigrams", [])[:15])
    trigrams = " ".join(f"{html.escape(g)}<sub>{n}</sub>" for g, n in stats.get("top_trigrams", [])[:15])
    words = " ".join(f"{html.escape(g)}<sub>{n}</sub>" for g, n in stats.get("top_words", [])[:15])
    return (f'<div class="corpus-stats"><h4>{html.escape(title)}</h4><ul>'
            f"<li>documents: {stats['documents']:,}; characters: {stats['chars']:,} (mean {stats['mean_chars']:.0f})</li>"
            f"<li>SC-leak rate: <b class=\"sc-leak\">{stats['sc_leak_rate']:.2%}</b> of documents hold Simplified-only "
            f"characters ({stats['sc_char_rate']:.2%} of script-specific characters)</li>{tokens}"
            f"<li>{html.escape(_counts_line(counts))}</li></ul>"
            f"{shares_svg(stats['script_shares'])}{histogram_svg(stats['length_histogram'])}"
            f"<p>frequent bigrams: {grams or '–'}</p><p>frequent trigrams: {trigrams or '–'}</p>"
            f"<p>frequent English words: {words or '–'}</p></div>")


def preview_html(result: dict[str, Any]) -> str:
    rows = "".join(f'<tr><td>{i + 1}</td><td>{diff_html(r["before"], r["after"])}</td></tr>'
                   for i, r in enumerate(result["rows"][:SHOWN_PREVIEW_ROWS]))
    return (f'<table class="jobs-table corpus-diff"><tr><th>#</th><th>after cleaning (<del>removed</del> '
            f"<ins>added</ins>; struck rows are dropped)</th></tr>{rows}</table>"
            + stats_html(result["stats"], result["counts"], f"Preview of the first {len(result['rows'])} rows"))


def corpora_html(store: JobStore) -> str:
    rows = []
    for c in corpora.list_corpora(store):
        leak = (c.stats or {}).get("sc_leak_rate", 0.0)
        rows.append(f'<tr data-corpus="{html.escape(c.name)}"><td>{html.escape(c.name)}</td><td>{c.kind}</td>'
                    f"<td>{c.rows:,}</td><td>{c.chars:,}</td><td>{leak:.2%}</td><td>{c.created_at:%Y-%m-%d %H:%M}</td></tr>")
    body = "".join(rows) or '<tr><td colspan="6">no corpora yet</td></tr>'
    return ('<table class="jobs-table"><tr><th>name</th><th>kind</th><th>rows</th><th>characters</th><th>SC-leak</th>'
            f"<th>created (UTC)</th></tr>{body}</table>")


def corpus_jobs_text(store: JobStore) -> str:
    """The newest corpus jobs: progress while running, the reason when one failed."""
    lines = []
    for job in [j for j in store.list_jobs(limit=20) if j.kind == "corpus"][:3]:
        share = f" {job.step / job.total_steps:.0%}" if job.total_steps and job.status == Status.running.value else ""
        error = f": {job.error.splitlines()[0]}" if job.error and job.status == Status.failed.value else ""
        lines.append(f'<li class="corpus-job job-{job.status}">job {job.id} {html.escape(job.name)}: '
                     f"{job.status}{share}{html.escape(error)}</li>")
    return f'<ul class="corpus-jobs">{"".join(lines)}</ul>' if lines else ""


# -- the tab ---------------------------------------------------------------------------------------------

def build_corpus(store: JobStore, tab: gr.Tab) -> None:
    workspace = store.workspace
    with gr.Row():
        with gr.Column(scale=3):
            upload = gr.File(label=T("corpus.upload"), file_count="multiple", file_types=UPLOAD_TYPES, elem_id="corpus-upload")
        with gr.Column(scale=2):
            name = gr.Textbox(label=T("corpus.name"), elem_id="corpus-name")
            on_bad = gr.Radio(["skip", "fail"], value="skip", label=T("corpus.on_bad"), elem_id="corpus-on-bad")
            tokenizer = gr.Dropdown(["none", "default"], value="default", allow_custom_value=True,
                                    label=T("corpus.tokenizer"), elem_id="corpus-tokenizer")
    with gr.Accordion(T("corpus.options"), open=True):
        widgets = _pipeline_widgets()
    with gr.Row():
        preview = gr.Button(T("corpus.preview"), elem_id="corpus-preview-button")
        start = gr.Button(T("corpus.import"), variant="primary", elem_id="corpus-import-button")
    message = gr.Markdown(elem_id="corpus-message")
    shown = gr.HTML(elem_id="corpus-preview")
    jobs = gr.HTML(corpus_jobs_text(store), elem_id="corpus-jobs")
    gr.Markdown(T("corpus.list"))
    listing = gr.HTML(corpora_html(store), elem_id="corpus-list")
    with gr.Row():
        selected = gr.Dropdown(choices=[], value=None, label=T("corpus.select"), elem_id="corpus-select", scale=3)
        new_name = gr.Textbox(label=T("corpus.rename_to"), elem_id="corpus-new-name", scale=2)
        rename = gr.Button(T("corpus.rename"), size="sm", elem_id="corpus-rename", scale=1)
        delete = gr.Button(T("delete"), size="sm", variant="stop", elem_id="corpus-delete", scale=1)
    details = gr.HTML(elem_id="corpus-stats")
    timer = gr.Timer(REFRESH_S)
    options = list(widgets.values())

    def pipeline_of(values) -> dict[str, Any]:
        return Pipeline.parse(dict(zip(widgets, values))).model_dump()

    @as_message
    def do_preview(files, bad, *values):
        result = corpus_build.preview(_paths(files), pipeline_of(values), limit=PREVIEW_ROWS, on_bad=bad)
        return preview_html(result), f"preview of the first {len(result['rows'])} rows; nothing was saved"

    preview.click(do_preview, [upload, on_bad, *options], [shown, message])

    @as_message
    def do_import(files, corpus_name, bad, tok, *values):
        corpus_name = (corpus_name or "").strip()
        corpus_store.check_name(corpus_name)
        corpus_store.require_new(workspace.corpora, corpus_name)
        pipeline = pipeline_of(values)
        paths = [str(store_upload(workspace, p, p.name)) for p in _paths(files)]
        job = store.submit_task("corpus", corpus_name, {"name": corpus_name, "files": paths, "pipeline": pipeline,
                                                        "on_bad": bad, "tokenizer": tok})
        start_detached(workspace)
        return f"✅ queued corpus job {job.id} ({corpus_name}); progress shows below and in the Jobs tab", corpus_jobs_text(store)

    start.click(do_import, [upload, name, on_bad, tokenizer, *options], [message, jobs])

    def refresh(current):
        names = [m["name"] for m in corpus_store.list_corpora(workspace.corpora)]
        value = current if current in names else None
        return corpora_html(store), corpus_jobs_text(store), gr.update(choices=names, value=value)

    timer.tick(as_message(refresh), selected, [listing, jobs, selected], show_progress="hidden")
    tab.select(as_message(refresh), selected, [listing, jobs, selected], show_progress="hidden")

    @as_message
    def show(corpus_name):
        if not corpus_name:
            return ""
        manifest = corpus_store.load_manifest(workspace.corpora, corpus_name)
        diffs = "".join(f"<tr><td>{diff_html(d['before'], d['after'])}</td></tr>" for d in manifest["stats"].get("diffs", []))
        sources = ", ".join(f"{s['name']} ({s['encoding']}, {s['records']:,} records, {s['skipped']} skipped)"
                            for s in manifest["source_files"])
        recipe = ", ".join(f"{k}={v}" for k, v in manifest["pipeline"].items())
        return (stats_html(manifest["stats"], manifest["counts"], f"{corpus_name}: {manifest['kind']}, use as corpus:{corpus_name}")
                + f"<p>sources: {html.escape(sources)}</p><p>pipeline: {html.escape(recipe)}</p>"
                + (f'<table class="jobs-table corpus-diff"><tr><th>before → after</th></tr>{diffs}</table>' if diffs else ""))

    selected.change(show, selected, details)

    @as_message
    def do_rename(old, new):
        if not old:
            raise DataError("select a corpus first")
        corpora.rename(store, old, (new or "").strip())
        names = [m["name"] for m in corpus_store.list_corpora(workspace.corpora)]
        return f"renamed {old} to {new.strip()}", corpora_html(store), gr.update(choices=names, value=new.strip())

    rename.click(do_rename, [selected, new_name], [message, listing, selected])

    @as_message
    def do_delete(corpus_name):
        if not corpus_name:
            raise DataError("select a corpus first")
        corpora.delete_corpus(store, corpus_name)
        names = [m["name"] for m in corpus_store.list_corpora(workspace.corpora)]
        return f"deleted corpus {corpus_name}", corpora_html(store), gr.update(choices=names, value=None), ""

    delete.click(do_delete, selected, [message, listing, selected, details])
