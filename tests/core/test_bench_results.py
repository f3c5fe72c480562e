"""Scores, the radar chart, side-by-side comparison and export computed from per-item records."""

from __future__ import annotations

import csv
import io
import json
import re

from core.bench_results import compare, export_csv, export_json, radar_svg, summarise, summary_text


def item(item_id, category, score, status="judged", hits=None, judge_score=None):
    return {"item_id": item_id, "category": category, "language": "zh", "status": status, "score": score,
            "judge_score": score if judge_score is None else judge_score, "rule_hits": hits or [],
            "turns": ["問題"], "answers": ["回答"], "judge_output": f"[[{score}]]"}


ITEMS = [
    item("a1", "arithmetic", 8.0), item("a2", "arithmetic", 6.0),
    item("l1", "logic", 0.0, hits=[{"rule": "simplified_chinese", "turn": 1, "reason": "turn 1: Simplified Chinese characters 这", "chars": ["这"]}], judge_score=9.0),
    item("l2", "logic", None, status="unparsed"),
    item("k1", "knowledge", 10.0),
    item("c1", "creative_writing", None, status="pending"),
]


def test_summary_counts_unparsed_apart_from_zero():
    s = summarise(ITEMS)
    assert s["overall"] == round((8 + 6 + 0 + 10) / 4, 3)
    assert (s["items"], s["scored"], s["unparsed"], s["rule_zero"], s["pending"]) == (6, 4, 1, 1, 1)
    assert s["categories"]["arithmetic"]["score"] == 7.0
    assert s["categories"]["logic"] == {"score": 0.0, "scored": 1, "items": 2, "unparsed": 1, "rule_zero": 1}
    assert s["categories"]["creative_writing"]["score"] is None
    assert list(s["categories"]) == ["arithmetic", "logic", "knowledge", "creative_writing"]  # the benchmark's order
    assert "overall 6.00" in summary_text(s)


def test_radar_has_one_polygon_per_run_and_scales_to_ten():
    one = summarise(ITEMS)
    other = summarise([item("a1", "arithmetic", 10.0), item("l1", "logic", 10.0), item("k1", "knowledge", 10.0)])
    svg = radar_svg({"run A": one, "run B": other}, size=420)
    assert svg.startswith("<svg") and svg.count('class="run"') == 2
    points = re.findall(r'data-run="run B" points="([^"]+)"', svg)[0].split()
    centre, radius = 210, 210 - 70
    first = [float(v) for v in points[0].split(",")]
    assert abs(first[0] - centre) < 0.1 and abs(first[1] - (centre - radius)) < 0.1  # 10 on the top axis is the outer ring
    assert "three or more" in radar_svg({"x": summarise(ITEMS[:2])})


def test_compare_puts_runs_side_by_side_per_category():
    a = summarise(ITEMS)
    b = summarise([item("a1", "arithmetic", 4.0), item("x1", "advice", 5.0)])
    rows = compare({"A": a, "B": b})
    by_category = {r["category"]: r for r in rows}
    assert by_category["arithmetic"] == {"category": "arithmetic", "A": 7.0, "B": 4.0}
    assert by_category["advice"] == {"category": "advice", "A": None, "B": 5.0}
    assert rows[-1] == {"category": "overall", "A": a["overall"], "B": 4.5}


def test_exports_round_trip():
    data = json.loads(export_json({"id": 1, "model": "default"}, ITEMS))
    assert data["summary"]["overall"] == summarise(ITEMS)["overall"] and len(data["items"]) == len(ITEMS)
    assert data["items"][2]["rules"].startswith("turn 1: Simplified")
    rows = list(csv.DictReader(io.StringIO(export_csv(ITEMS))))
    assert [r["item_id"] for r in rows] == [i["item_id"] for i in ITEMS]
    assert rows[0]["score"] == "8.0" and rows[3]["score"] == "" and rows[3]["status"] == "unparsed"
