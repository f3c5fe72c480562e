"""The History tab: every job ever run here, filterable, with its config, curves, artifacts and lineage."""

from __future__ import annotations

import gradio as gr

import yaml

from core.config import dump_config, parse_config
from jobs.models import Status
from jobs.store import JobStore
from studio.i18n import T
from studio.messages import as_message
from studio.views import HISTORY_HEADERS, artifacts_html, history_rows, lineage, metrics_frame


def build_history(store: JobStore, tab: gr.Tab) -> None:
    with gr.Row():
        statuses = gr.CheckboxGroup([s.value for s in Status], label=T("filter.status"), scale=3)
        base_model = gr.Dropdown(choices=[""] + store.base_models(), value="", label=T("filter.base_model"), scale=2)
    with gr.Row():
        since = gr.Textbox(label=T("filter.since"), scale=1)
        until = gr.Textbox(label=T("filter.until"), scale=1)
        text = gr.Textbox(label=T("filter.text"), scale=2, elem_id="history-search")
        refresh = gr.Button(T("refresh"), size="sm", scale=0)
    table = gr.Dataframe(headers=HISTORY_HEADERS, value=history_rows(store), interactive=False, elem_id="history-table",
                         label=T("history.jobs"), max_height=360)
    summary = gr.Markdown(elem_id="history-detail")
    with gr.Row():
        with gr.Column():
            plot = gr.LinePlot(x="step", y="value", color="metric", label=T("detail.metrics"), height=260)
            artifacts = gr.HTML(label=T("detail.artifacts"), elem_id="history-artifacts")
            origin = gr.JSON(label=T("detail.lineage"))
        config = gr.Code(language="yaml", label=T("detail.config"), interactive=False)

    filters = [statuses, since, until, base_model, text]

    @as_message
    def search(statuses, since, until, base_model, text):
        rows = history_rows(store, statuses=statuses, since=since, until=until, base_model=base_model, text=text)
        return gr.update(value=rows), gr.update(choices=[""] + store.base_models())

    @as_message
    def show(evt: gr.SelectData, rows):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        job_id = int(rows.iloc[row, 0] if hasattr(rows, "iloc") else rows[row][0])
        job = store.get(job_id)
        text = (f"### #{job.id} {job.name} — {job.status}\n\nsteps {job.step}/{job.total_steps or '?'}, final loss "
                f"{job.last_loss}, created {job.created_at:%Y-%m-%d %H:%M} UTC, output `{job.output_dir}`")
        if job.error:
            text += f"\n\n```\n{job.error}\n```"
        config = dump_config(parse_config(job.config)) if job.kind == "train" else yaml.safe_dump(job.config, allow_unicode=True)
        return text, config, metrics_frame(store, job_id), artifacts_html(store, job_id), lineage(job)

    gr.on([f.change for f in (statuses, base_model)] + [refresh.click, text.submit, since.submit, until.submit, tab.select],
          search, filters, [table, base_model], show_progress="hidden")
    table.select(show, table, [summary, config, plot, artifacts, origin])
