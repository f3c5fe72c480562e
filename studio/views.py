"""What the Jobs and History tabs show, computed from the store without Gradio: rows, ETA, curves.

Kept apart from the tab layouts so the benchmark can time a list refresh directly and tests can check
the numbers without a browser.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import pandas as pd

from core.svg_chart import Axes, empty_svg
from jobs.models import Job, Status
from jobs.store import JobStore

RECENT = 30


def progress(job: Job) -> float:
    if job.status == Status.succeeded.value:
        return 1.0
    return min(1.0, job.step / job.total_steps) if job.total_steps else 0.0


def eta_seconds(job: Job) -> float | None:
    if job.status != Status.running.value or not job.step or not job.total_steps or not job.elapsed_s:
        return None
    return job.elapsed_s / job.step * max(0, job.total_steps - job.step)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def jobs_for_list(store: JobStore, recent: int = RECENT) -> list[Job]:
    """Running first, then the queue in order, then the most recent finished jobs."""
    running = store.running()
    queued = store.queue()
    finished = store.list_jobs(statuses=[s.value for s in Status if s not in (Status.running, Status.queued)], limit=recent)
    return running + queued + finished


def jobs_table_html(jobs: list[Job]) -> str:
    head = ("<tr><th>#</th><th>name</th><th>status</th><th>progress</th><th>step</th>"
            "<th>ETA</th><th>tokens/s</th><th>last loss</th></tr>")
    rows = []
    for job in jobs:
        share = progress(job)
        loss = "–" if job.last_loss is None else f"{job.last_loss:.4f}"
        speed = "–" if job.tokens_per_s is None else f"{job.tokens_per_s:.0f}"
        rows.append(
            f'<tr data-job="{job.id}" class="job-{job.status}"><td>{job.id}</td><td>{kind_label(job)}{html.escape(job.name)}</td>'
            f'<td class="status">{job.status}</td>'
            f'<td><progress value="{share:.3f}" max="1"></progress> <span class="pct">{share:.0%}</span></td>'
            f"<td>{job.step}/{job.total_steps or '?'}</td><td>{format_duration(eta_seconds(job))}</td>"
            f"<td>{speed}</td><td>{loss}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="8">no jobs yet</td></tr>'
    return f'<table class="jobs-table">{head}{body}</table>'


def kind_label(job: Job) -> str:
    return "" if job.kind == "train" else f'<span class="kind">{html.escape(job.kind)}</span> '


def job_choices(jobs: list[Job]) -> list[tuple[str, int]]:
    return [(f"#{j.id} {j.name} ({j.status})", j.id) for j in jobs]


def metrics_frame(store: JobStore, job_id: int | None, names: tuple[str, ...] = ("loss", "eval_loss")) -> pd.DataFrame:
    rows = store.metrics(job_id, names) if job_id is not None else []
    # Typed columns even when empty: the plot keeps the axis types of the first frame it was given.
    return pd.DataFrame({
        "step": pd.Series([m.step for m in rows], dtype="int64"),
        "value": pd.Series([m.value for m in rows], dtype="float64"),
        "metric": pd.Series([m.name for m in rows], dtype="object"),
    })


HISTORY_HEADERS = ["id", "name", "status", "base model", "created (UTC)", "steps", "final loss"]


def history_rows(store: JobStore, *, statuses: list[str] | None = None, since: str = "", until: str = "",
                 base_model: str | None = None, text: str = "", limit: int = 500) -> list[list[Any]]:
    jobs = store.list_jobs(statuses=statuses or None, text=text.strip() or None, base_model=base_model or None,
                           since=_date(since), until=_date(until, end=True), limit=limit)
    return [[j.id, j.name, j.status, j.base_model or "", j.created_at.strftime("%Y-%m-%d %H:%M"),
             f"{j.step}/{j.total_steps or '?'}", "" if j.last_loss is None else round(j.last_loss, 4)] for j in jobs]


def _date(text: str, end: bool = False) -> datetime | None:
    from datetime import timedelta

    from core.errors import ConfigError

    text = (text or "").strip()
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ConfigError(f"date: expected YYYY-MM-DD (got {text!r})") from None
    return day + timedelta(days=1) if end else day


def artifacts_html(store: JobStore, job_id: int) -> str:
    """Download links served by Gradio from the workspace's runs folder (no copy into Gradio's cache)."""
    items = []
    for a in store.artifacts(job_id):
        label = f"{a.kind}: {html.escape(a.path.rsplit('/', 1)[-1])} ({a.bytes:,} bytes, sha256 {a.sha256[:12]}…)"
        items.append(f'<li><a href="/gradio_api/file={html.escape(a.path)}" download>{label}</a></li>')
    return "<ul>" + "".join(items) + "</ul>" if items else "<p>–</p>"


def lineage(job: Job) -> dict[str, Any]:
    return {"base_model": job.base_model, "tokenizer": job.tokenizer_id, "data_files": job.data_files,
            "output_dir": job.output_dir, "resumed": job.resume}


def loss_curve_svg(store: JobStore, job_id: int | None, width: int = 560, height: int = 240) -> str:
    """The job's loss (and eval loss) as an inline SVG line chart.

    The live Jobs tab redraws this every second or so; an SVG string is cheap, renders the same in every
    browser, and does not depend on a plotting widget keeping its state between updates.
    """
    frame = metrics_frame(store, job_id)
    if frame.empty:
        return empty_svg("loss-curve", width, height, "no steps logged yet")
    axes = Axes(width, height, float(frame.step.min()), float(frame.step.max()), float(frame.value.min()), float(frame.value.max()))
    sx, sy = axes.sx, axes.sy
    parts = axes.open("loss-curve") + axes.y_labels(".4g")
    for v in (axes.x0, axes.x1):
        parts.append(f'<text x="{sx(v):.1f}" y="{height - 8}" text-anchor="middle" fill="#555">step {int(v)}</text>')
    for name, colour in (("loss", "#1f77b4"), ("eval_loss", "#ff7f0e")):
        points = frame[frame.metric == name].sort_values("step")
        if points.empty:
            continue
        coords = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(points.step, points.value))
        parts.append(f'<polyline class="{name}" points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - axes.pad_r - 4}" y="{axes.pad_t + (14 if name == "loss" else 28)}" text-anchor="end" '
                     f'fill="{colour}">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)
