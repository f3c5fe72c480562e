"""Corpus imports through the real scheduler and worker, and through the ``bailong corpus`` CLI."""

from __future__ import annotations

import json

import opencc

from core.datafiles import SAMPLES
from core.script_detect import simplified_only
from jobs.corpora import list_corpora
from jobs.scheduler import start_detached
from tests.jobs.conftest import tiny_run, wait_for

FINAL = {"succeeded", "failed", "cancelled", "interrupted"}


def _simplified_file(folder, lines=60):
    t2s = opencc.OpenCC("t2s")
    text = SAMPLES["tc_corpus"].read_text(encoding="utf-8").splitlines()[:lines]
    path = folder / "sc.txt"
    path.write_text("\n".join(t2s.convert(line) for line in text) + "\n" + t2s.convert(text[0]) + "\n", encoding="utf-8")
    return path


def _finished(cli, job_id):
    return cli.store.get(job_id) if cli.store.get(job_id).status in FINAL else None


def test_corpus_job_runs_in_a_worker_and_training_reads_it(cli, home, tmp_path, tiny_model_dir):
    source = _simplified_file(tmp_path)
    job = cli.store.submit_task("corpus", "news", {"name": "news", "files": [str(source)], "pipeline": {"dedup": "near"},
                                                   "tokenizer": str(tiny_model_dir)})
    start_detached(home)
    done = wait_for(lambda: _finished(cli, job.id), 90, "the corpus job")
    assert done.status == "succeeded", done.error
    assert done.step == done.total_steps == 100  # progress reached the end of the bar

    [row] = list_corpora(cli.store)
    assert (row.name, row.kind, row.rows, row.job_id) == ("news", "text", 60, job.id)
    assert row.stats["counts"]["dropped_exact_duplicate"] == 1 and row.stats["tokens_per_char"] > 0
    assert row.pipeline["dedup"] == "near" and row.source_files[0]["sha256"]
    manifest = json.loads((home.corpora / "news" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sha256"] == row.sha256 and manifest["stats"]["sc_leak_rate"] == 0.0

    # A training run on the tiny model reads corpus:news inside its own worker process.
    train_id = cli.submit(tiny_run(tiny_model_dir, "on-corpus", steps=2, train=["corpus:news"]))
    trained = wait_for(lambda: _finished(cli, train_id), 180, "the training job")
    assert trained.status == "succeeded", trained.error
    assert trained.data_files[0]["path"] == str(home.corpora / "news" / "data.parquet")


def test_failed_corpus_job_registers_nothing(cli, home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "好"}\n{broken\n', encoding="utf-8")
    job = cli.store.submit_task("corpus", "bad", {"name": "bad", "files": [str(bad)], "on_bad": "fail"})
    start_detached(home)
    done = wait_for(lambda: _finished(cli, job.id), 60, "the corpus job")
    assert done.status == "failed" and done.error_reason == "bad data"
    assert done.error.startswith("bad data: bad.jsonl: line 2: invalid JSON")
    assert list_corpora(cli.store) == [] and [p.name for p in home.corpora.iterdir()] == []


def test_cli_import_list_stats_export_rename_delete(cli, home, tmp_path):
    source = _simplified_file(tmp_path, lines=30)
    imported = cli.json("corpus", "import", str(source), "--name", "web", "--dedup", "--scrub-pii")
    assert imported["rows"] == 30 and imported["pipeline"]["dedup"] == "near" and imported["pipeline"]["scrub_pii"]
    assert [c["name"] for c in cli.json("corpus", "list")] == ["web"]
    assert "SC-leak rate 0.00%" in cli.run("corpus", "stats", "web").stdout

    duplicate = cli.run("corpus", "import", str(source), "--name", "web", check=False)
    assert duplicate.returncode == 2 and duplicate.stderr.strip() == (
        "error: corpus 'web' already exists; choose another name or delete it first")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    refused = cli.run("corpus", "import", str(empty), "--name", "empty", check=False)
    assert refused.returncode == 2 and refused.stderr.strip() == "error: empty.txt: file is empty"

    out = tmp_path / "web.jsonl"
    assert cli.json("corpus", "export", "web", "--out", str(out))["rows"] == 30
    rows = [json.loads(line)["text"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 30 and not any(simplified_only(r) for r in rows)

    cli.run("corpus", "rename", "web", "web2")
    assert [c["name"] for c in cli.json("corpus", "list")] == ["web2"]
    cli.run("corpus", "delete", "web2")
    assert cli.json("corpus", "list") == [] and [p.name for p in home.corpora.iterdir()] == []
