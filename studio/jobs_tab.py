"""The Jobs tab: the live list, the selected job's loss curve and log, and its actions."""

from __future__ import annotations

import gradio as gr

from core.config import dump_config, parse_config
from jobs.logs import tail
from jobs.models import Status
from jobs.scheduler import mark_lost_workers, scheduler_running, start_detached
from jobs.store import JobError, JobStore
from studio.i18n import T
from studio.messages import as_message
from studio.train_tab import TrainTab
from studio.views import job_choices, jobs_for_list, jobs_table_html, loss_curve_svg

REFRESH_S = 1.0


def keep_queue_alive(store: JobStore) -> None:
    """With no scheduler holding the lock, close dead workers' jobs and restart the queue if anything waits."""
    if scheduler_running(store.workspace):
        return
    mark_lost_workers(store)
    if store.queue():
        start_detached(store.workspace)


def build_jobs(store: JobStore, train: TrainTab, tabs: gr.Tabs, tab: gr.Tab) -> None:
    timer = gr.Timer(REFRESH_S)
    table = gr.HTML(jobs_table_html(jobs_for_list(store)), elem_id="jobs-table")
    with gr.Row():
        selected = gr.Dropdown(choices=[], value=None, label=T("job"), elem_id="job-select", scale=3, min_width=260)
        cancel = gr.Button(T("cancel"), size="sm", elem_id="job-cancel")
        resume = gr.Button(T("resume"), size="sm", elem_id="job-resume")
        clone = gr.Button(T("clone"), size="sm", elem_id="job-clone")
        delete = gr.Button(T("delete"), size="sm", variant="stop", elem_id="job-delete")
        up = gr.Button(T("move_up"), size="sm")
        down = gr.Button(T("move_down"), size="sm")
    message = gr.Markdown(elem_id="job-message")
    with gr.Row():
        with gr.Column():
            gr.Markdown(T("loss_curve"))
            plot = gr.HTML(loss_curve_svg(store, None), elem_id="loss-plot")
        log = gr.Textbox(label=T("log_tail"), lines=12, max_lines=12, interactive=False, elem_id="job-log",
                         autoscroll=True)

    shown_curve = gr.State(None)  # (job, step) last drawn: redrawing an unchanged plot every tick makes it flicker

    def refresh(job_id, last_curve):
        keep_queue_alive(store)
        jobs = jobs_for_list(store)
        if job_id is None and jobs:
            job_id = jobs[0].id
        current = next((j for j in jobs if j.id == job_id), None)
        curve = (job_id, current.step if current else None)
        return (jobs_table_html(jobs), gr.update(choices=job_choices(jobs), value=job_id),
                gr.skip() if curve == last_curve else loss_curve_svg(store, job_id), curve,
                tail(current.log_path, 40) if current else "")

    outputs = [table, selected, plot, shown_curve, log]
    tab.select(lambda job_id: (loss_curve_svg(store, job_id), None), selected, [plot, shown_curve], show_progress="hidden")
    timer.tick(as_message(refresh), [selected, shown_curve], outputs, show_progress="hidden")
    selected.input(as_message(refresh), [selected, shown_curve], outputs, show_progress="hidden")

    def need(job_id):
        if job_id is None:
            raise gr.Error("select a job first", print_exception=False)
        return int(job_id)

    @as_message
    def do_cancel(job_id):
        outcome = store.request_cancel(need(job_id))
        return f"job {job_id}: " + ("cancelled" if outcome == Status.cancelled else "stopping (a checkpoint is being saved)")

    @as_message
    def do_resume(job_id):
        store.resume(need(job_id))
        start_detached(store.workspace)
        return f"job {job_id}: queued to resume from its last checkpoint"

    @as_message
    def do_delete(job_id):
        store.delete(need(job_id))
        return f"job {job_id}: deleted"

    @as_message
    def do_move(job_id, offset):
        store.move(need(job_id), offset)
        return f"job {job_id}: moved"

    @as_message
    def do_clone(job_id):
        job = store.get(need(job_id))
        if job.kind != "train":
            raise JobError(f"job {job_id} is a {job.kind} job; only training runs can be cloned into the form")
        config = parse_config(job.config)
        values = train.form.values_for(config)
        note = f"cloned job {job_id}; change the name before starting\n\n```yaml\n{dump_config(config)}```"
        return [*values, note, gr.Tabs(selected="train")]

    cancel.click(do_cancel, selected, message)
    resume.click(do_resume, selected, message)
    delete.click(do_delete, selected, message)
    up.click(lambda j: do_move(j, -1), selected, message)
    down.click(lambda j: do_move(j, +1), selected, message)
    clone.click(do_clone, selected, [*train.form.widgets, train.status, tabs])
