"""Real scheduler and worker processes training the tiny model through the public CLI."""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path

from jobs.store import JobStore
from tests.jobs.conftest import tiny_run, wait_for

FINAL = {"succeeded", "failed", "cancelled", "interrupted"}


def finished(cli, job_id):
    """Polls the database in-process (a CLI process per poll would steal the CPU the workers train on)."""
    if cli.store.get(job_id).status in FINAL:
        return cli.show(job_id)
    return None


def progress(cli, job_id):
    return cli.store.get(job_id)


def test_submissions_run_in_order_and_a_failure_does_not_stop_the_queue(cli, home, tiny_model_dir):
    ids = [cli.submit(tiny_run(tiny_model_dir, "first")),
           cli.submit(tiny_run(tiny_model_dir, "broken", train=["missing.txt"])),
           cli.submit(tiny_run(tiny_model_dir, "second")),
           cli.submit(tiny_run(tiny_model_dir, "third"))]
    jobs = [wait_for(lambda i=i: finished(cli, i), 180, f"job {i}") for i in ids]
    assert [j["status"] for j in jobs] == ["succeeded", "failed", "succeeded", "succeeded"]
    for earlier, later in zip(jobs, jobs[1:]):
        assert datetime.fromisoformat(earlier["finished_at"]) <= datetime.fromisoformat(later["started_at"])

    broken = jobs[1]
    assert broken["error_reason"] == "bad data" and "missing.txt" in broken["error"]
    assert "Last log lines:" in broken["error"] and "Traceback" not in broken["error"].split("Last log lines:")[0]

    first = jobs[0]
    assert first["step"] == 3 and first["last_loss"] > 0 and first["pid"] is None
    assert first["output_dir"] == str(home.runs / "first")
    assert first["log_path"] == str(home.runs / "first" / "worker.log")
    assert "done, 3 steps" in Path(first["log_path"]).read_text()
    assert first["tokenizer_id"].startswith(str(tiny_model_dir) + "@sha256:")
    assert first["data_files"][0]["sha256"] and first["data_files"][0]["path"].endswith("tc_sample.txt")
    kinds = {a["kind"] for a in first["artifacts"]}
    assert {"adapter", "config", "metrics", "summary"} <= kinds
    adapter = next(a for a in first["artifacts"] if a["path"].endswith("adapter_model.safetensors"))
    assert adapter["bytes"] == Path(adapter["path"]).stat().st_size and len(adapter["sha256"]) == 64

    steps = [m.step for m in JobStore(home).metrics(ids[0], ["loss"])]
    assert steps == [1, 2, 3]
    listed = cli.json("jobs", "list")
    assert [j["id"] for j in listed] == ids[::-1]
    assert "step 3/3" in cli.run("jobs", "logs", str(ids[0]), "--follow").stdout


def test_cancel_stops_gracefully_with_a_checkpoint(cli, home, tiny_model_dir):
    job_id = cli.submit(tiny_run(tiny_model_dir, "long", steps=5000, save_steps=5000))
    wait_for(lambda: progress(cli, job_id).step >= 2, 120, "training to start")
    assert cli.json("jobs", "cancel", str(job_id))["status"] == "stopping"
    job = wait_for(lambda: finished(cli, job_id), 15, "the cancel")
    assert job["status"] == "cancelled" and job["error_reason"] == "cancelled"
    checkpoints = [a for a in job["artifacts"] if a["kind"] == "checkpoint"]
    assert any(a["path"].endswith("trainer_state.pt") for a in checkpoints)
    step = int(Path(checkpoints[0]["path"]).parent.name.split("-")[1])
    assert step == job["step"] > 0


def test_a_killed_worker_is_interrupted_then_resumes_where_it_stopped(cli, home, tiny_model_dir):
    total = 12
    job_id = cli.submit(tiny_run(tiny_model_dir, "killed", steps=total, save_steps=2))
    running = wait_for(lambda: (j := progress(cli, job_id)).step >= 5 and j.pid and j, 120, "a few checkpoints", poll=0.05)
    assert running.status == "running"
    os.kill(running.pid, signal.SIGKILL)
    job = wait_for(lambda: finished(cli, job_id), 15, "the job to be marked interrupted")
    assert job["status"] == "interrupted" and "signal 9" in job["error"]
    assert job["step"] < total

    assert cli.json("jobs", "resume", str(job_id))["status"] == "queued"
    job = wait_for(lambda: finished(cli, job_id), 180, "the resumed job")
    assert job["status"] == "succeeded" and job["step"] == total
    steps = [m.step for m in JobStore(home).metrics(job_id, ["loss"])]
    assert steps == list(range(1, total + 1))
    log = Path(job["log_path"]).read_text()
    assert "resuming killed" in log and f"step {total}/{total}" in log
