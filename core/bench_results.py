"""Bailong-bench results from per-item records: scores per category and overall, the radar chart, runs
side by side, and CSV/JSON export.

Items are plain dicts (what ``jobs.bench_store`` reads from the database), so this module needs no
database and the CLI, the studio and the tests all compute the same numbers. The overall score is the
mean over scored items; an item whose judge reply could not be read (and no rule fired) has no score
and is counted as *unparsed*, not as 0. The radar is an inline SVG in the house way of
``studio.views.loss_curve_svg``: cheap, identical in every browser, no plotting widget state.
"""

from __future__ import annotations

import csv
import io
import json
import math
from html import escape
from typing import Any

from core.bench_data import CATEGORIES
from core.svg_chart import empty_svg

EXPORT_FIELDS = ["item_id", "category", "language", "status", "score", "judge_score", "rules", "turns", "answers", "judge_output"]
RUN_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def summarise(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per-category scores: mean, items scored, unparsed, zeroed by a rule, still pending."""
    categories: dict[str, dict[str, Any]] = {}
    order = [c for c in CATEGORIES if any(i["category"] == c for i in items)]
    order += sorted({i["category"] for i in items} - set(order))
    for category in order:
        rows = [i for i in items if i["category"] == category]
        scores = [i["score"] for i in rows if i.get("score") is not None]
        categories[category] = {
            "score": _mean(scores), "scored": len(scores), "items": len(rows),
            "unparsed": sum(1 for i in rows if i.get("status") == "unparsed"),
            "rule_zero": sum(1 for i in rows if i.get("rule_hits")),
        }
    scores = [i["score"] for i in items if i.get("score") is not None]
    finished = sum(1 for i in items if i.get("status") in ("judged", "unparsed"))
    return {
        "overall": _mean(scores), "items": len(items), "scored": len(scores), "finished": finished,
        "unparsed": sum(1 for i in items if i.get("status") == "unparsed"),
        "rule_zero": sum(1 for i in items if i.get("rule_hits")),
        "pending": len(items) - finished, "categories": categories,
    }


def compare(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per category (then ``overall``) with each run's score: runs side by side."""
    names = list(summaries)
    categories: list[str] = []
    for summary in summaries.values():
        categories += [c for c in summary["categories"] if c not in categories]
    rows = [{"category": c, **{n: summaries[n]["categories"].get(c, {}).get("score") for n in names}} for c in categories]
    rows.append({"category": "overall", **{n: summaries[n]["overall"] for n in names}})
    return rows


def radar_svg(series: dict[str, dict[str, Any]], size: int = 420) -> str:
    """Per-category scores of one or more runs (``{label: summary}``) on a 0–10 radar."""
    categories: list[str] = []
    for summary in series.values():
        categories += [c for c in summary["categories"] if c not in categories]
    if len(categories) < 3:
        return empty_svg("bench-radar", size, size, "needs three or more categories with scores")
    cx = cy = size / 2
    radius = size / 2 - 70

    def point(index: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * index / len(categories)
        return cx + radius * value / 10 * math.cos(angle), cy + radius * value / 10 * math.sin(angle)

    parts = [f'<svg class="bench-radar" width="{size}" height="{size + 20 * len(series)}" font-size="10" font-family="sans-serif">']
    for level in (2, 4, 6, 8, 10):
        ring = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, level) for i in range(len(categories))))
        parts.append(f'<polygon points="{ring}" fill="none" stroke="#ddd"/>')
    for i, category in enumerate(categories):
        x, y = point(i, 10)
        lx, ly = point(i, 11.6)
        anchor = "middle" if abs(lx - cx) < 8 else ("start" if lx > cx else "end")
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{lx:.1f}" y="{ly + 3:.1f}" text-anchor="{anchor}" fill="#555">{escape(category)}</text>')
    for n, (label, summary) in enumerate(series.items()):
        colour = RUN_COLOURS[n % len(RUN_COLOURS)]
        values = [summary["categories"].get(c, {}).get("score") or 0.0 for c in categories]
        shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v) for i, v in enumerate(values)))
        parts.append(f'<polygon class="run" data-run="{escape(label)}" points="{shape}" fill="{colour}" fill-opacity="0.15" '
                     f'stroke="{colour}" stroke-width="2"/>')
        overall = summary.get("overall")
        parts.append(f'<text x="12" y="{size + 14 + 20 * n}" fill="{colour}">{escape(label)}: '
                     f'{"–" if overall is None else f"{overall:.2f}"}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _export_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_id": item["item_id"], "category": item["category"], "language": item["language"], "status": item.get("status"),
        "score": item.get("score"), "judge_score": item.get("judge_score"),
        "rules": "; ".join(h["reason"] for h in item.get("rule_hits") or []),
        "turns": item.get("turns") or [], "answers": item.get("answers") or [], "judge_output": item.get("judge_output") or "",
    }


def export_json(run: dict[str, Any], items: list[dict[str, Any]]) -> str:
    return json.dumps({"run": run, "summary": summarise(items), "items": [_export_row(i) for i in items]},
                      ensure_ascii=False, indent=1, default=str)


def export_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for item in items:
        row = _export_row(item)
        row["turns"] = "\n---\n".join(row["turns"])
        row["answers"] = "\n---\n".join(row["answers"])
        writer.writerow(row)
    return out.getvalue()


def summary_text(summary: dict[str, Any]) -> str:
    """The summary as a few aligned lines for the terminal."""
    overall = summary["overall"]
    lines = [f"overall {'–' if overall is None else f'{overall:.2f}'}  ({summary['scored']} scored of {summary['items']}, "
             f"{summary['unparsed']} unparsed, {summary['rule_zero']} zeroed by rules, {summary['pending']} pending)"]
    for category, row in summary["categories"].items():
        score = "–" if row["score"] is None else f"{row['score']:.2f}"
        lines.append(f"  {category:<22}{score:>6}  n={row['items']}  unparsed={row['unparsed']}  rules={row['rule_zero']}")
    return "\n".join(lines)
