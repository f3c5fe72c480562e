"""The pipeline over the real database: answers and judgements cached per item, a second pass redoes nothing.

Runs the tiny model in this process as both the answerer and a local judge; its 256-token context declines
the judge prompts, which must then be recorded as unparsed (scoring itself is covered end to end through
``bailong serve`` in test_bench_jobs.py).
"""

from __future__ import annotations

import pytest

from core.bench_data import load_bench
from core.bench_pipeline import run_pipeline
from core.bench_rules import check_item
from jobs import bench_store
from jobs.store import JobStore


@pytest.fixture
def tiny_engine(tiny_model_dir, home):
    from core.inference import load_engine
    from core.model_spec import ModelSpec

    return load_engine(ModelSpec(name="tiny", base_model=str(tiny_model_dir)), home)


def pick(questions, *ids):
    return [next(q for q in questions if q.id == i) for i in ids]


def test_pipeline_caches_every_item_and_resume_skips_finished(home, tiny_engine):
    from core.inference import GenerationSettings
    from core.judge import LocalJudge

    store = JobStore(home)
    questions = pick(load_bench(None), "arithmetic-zh-01", "translation_tc_en-zh-01", "multi_turn-zh-05")
    run_id = bench_store.create_run(store, name="t", model="tiny", judge="local:tiny", benchmark="bundled", settings={},
                                    questions=questions)
    states = bench_store.item_states(store, run_id)
    assert [s.expected_languages for s in states][1:3] == [["en"], ["zh", "zh", "en"]]
    settings = GenerationSettings(temperature=0.0, max_new_tokens=4)
    ticks = []
    report = run_pipeline(states, tiny_engine, LocalJudge(tiny_engine, max_tokens=4), bench_store.DbSink(store, run_id),
                          settings, batch_size=3, progress=lambda d, t, m: ticks.append((d, t)))
    assert (report.answered, report.judged, report.skipped) == (3, 3, 0)
    assert ticks[-1] == (6, 6)

    rows = bench_store.items(store, run_id)
    for row, q in zip(rows, questions):
        assert len(row["answers"]) == len(q.turns) and row["generations"] == 1 and row["answered_at"]
        assert row["judge_output"].startswith("(no judgement: ") and row["judge_attempts"] == 1 and row["judged_at"]
        assert row["judge_score"] is None and row["status"] == ("judged" if row["rule_hits"] else "unparsed")
        hits = check_item(row["expected_language"], row["answers"])
        assert [h.as_dict() for h in hits] == row["rule_hits"]
        assert row["score"] == (0.0 if hits else row["judge_score"])
    summary = bench_store.set_status(store, run_id, "succeeded")
    assert summary["finished"] == 3 and bench_store.get_run(store, run_id).summary == summary

    again = run_pipeline(bench_store.item_states(store, run_id), tiny_engine, LocalJudge(tiny_engine, max_tokens=4),
                         bench_store.DbSink(store, run_id), settings)
    assert (again.answered, again.judged, again.skipped) == (0, 0, 3)
    assert bench_store.items(store, run_id) == rows


def test_key_file_is_private_and_not_in_the_database(home):
    store = JobStore(home)
    run_id = bench_store.create_run(store, name="k", model="m", judge="j", benchmark="bundled", settings={},
                                    questions=load_bench(None)[:1])
    bench_store.write_secret(store, run_id, "sk-very-secret")
    path = bench_store.secret_path(store, run_id)
    assert path.stat().st_mode & 0o077 == 0
    assert bench_store.read_secret(store, run_id, None) == "sk-very-secret"
    assert b"sk-very-secret" not in store.workspace.database.read_bytes()
    bench_store.delete_run(store, run_id)
    assert not path.exists()
