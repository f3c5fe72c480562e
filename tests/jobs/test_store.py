"""The job store on real SQLite: concurrent submissions, queue moves, guarded status changes, seeding."""

from __future__ import annotations

import threading

import pytest

from core.config import parse_config
from core.errors import OutputError
from jobs.models import Status
from jobs.store import JobError, JobStore, seed_history


def config(name: str, **extra):
    return parse_config({"name": name, **extra})


def test_fifty_concurrent_submissions_are_recorded_exactly_once(home):
    JobStore(home).close()  # migrate once, as the studio does on start
    errors: list[Exception] = []

    def submit(i: int) -> None:
        store = JobStore(home)  # one engine per thread, like separate processes
        try:
            store.submit(config(f"run-{i:02d}"))
        except Exception as error:  # collected, so a failure names itself instead of hanging a thread
            errors.append(error)
        finally:
            store.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = JobStore(home)
    jobs = store.list_jobs()
    assert sorted(j.name for j in jobs) == [f"run-{i:02d}" for i in range(50)]
    assert len({j.position for j in jobs}) == 50
    assert all(j.status == Status.queued.value for j in jobs)


def test_queue_order_can_be_changed_and_queued_jobs_removed(home):
    store = JobStore(home)
    a, b, c = (store.submit(config(n)).id for n in ("a", "b", "c"))
    store.move(c, -1)
    assert [j.id for j in store.queue()] == [a, c, b]
    assert store.request_cancel(a) == Status.cancelled
    store.delete(b)
    assert [j.id for j in store.queue()] == [c]
    with pytest.raises(JobError, match="only interrupted, cancelled or failed"):
        store.resume(c)


def test_a_second_job_for_the_same_output_is_refused(home):
    store = JobStore(home)
    store.submit(config("same"))
    with pytest.raises(JobError, match="already writes to"):
        store.submit(config("same"))
    (home.runs / "taken").mkdir()
    (home.runs / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        store.submit(config("taken"))


def test_status_moves_are_guarded(home):
    store = JobStore(home)
    job = store.submit(config("guarded"))
    assert store.claim(job.id) and not store.claim(job.id)
    store.record_step(job.id, {"step": 1, "loss": 2.5, "lr": 1e-3, "tokens_per_s": 10.0, "elapsed_s": 0.1, "total_steps": 3})
    store.record_step(job.id, {"step": 1, "loss": 2.4, "lr": 1e-3, "tokens_per_s": 10.0, "elapsed_s": 0.1, "total_steps": 3})
    assert [m.value for m in store.metrics(job.id, ["loss"])] == [2.4]
    assert store.finish(job.id, Status.succeeded) and not store.mark_interrupted(job.id, "late")
    shown = store.get(job.id).as_dict()
    assert shown["status"] == "succeeded" and shown["last_loss"] == 2.4 and shown["step"] == 1


def test_seed_history_writes_real_rows(home):
    store = JobStore(home)
    ids = seed_history(store, 30)
    assert len(store.list_jobs()) == 30 and len(ids) == 30
    assert {j.status for j in store.list_jobs()} <= {s.value for s in Status} - {"queued", "running"}
    assert len(store.metrics(ids[0], ["loss"])) == 20
    assert store.list_jobs(text="seeded-0-7")[0].name == "seeded-0-7"
