"""Bailong-bench as a real job: killed halfway and resumed without redoing finished items; and end to end
through the CLI with the default model judged over HTTP by a real ``bailong serve`` subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from jobs import bench_store
from tests.jobs.conftest import REPO, free_port, wait_for


def test_killed_run_resumes_without_redoing_finished_items(cli, home, tiny_model_dir):
    from jobs.scheduler import start_detached

    store = cli.store
    # The default model answers (slow enough to be caught halfway); the tiny judge declines the long judge
    # prompts at once, so judging costs nothing here and every item still gets its judgement recorded.
    run_id, job = bench_store.submit_bench(store, model="default", judge=str(tiny_model_dir), limit=6, batch_size=1,
                                           generation={"max_new_tokens": 12}, judge_max_tokens=4)
    start_detached(store.workspace)

    def some_done():
        rows = bench_store.items(store, run_id)
        done = [r for r in rows if r["status"] in ("judged", "unparsed")]
        return rows if 2 <= len(done) < len(rows) else None

    before = wait_for(some_done, 150, "two items judged", poll=0.1)
    worker = store.get(job.id).pid
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: store.get(job.id).status == "interrupted", 40, "the killed job to be marked interrupted")
    assert bench_store.get_run(store, run_id).status == "interrupted"  # from the job row: the worker could not say
    snapshot = {r["item_id"]: r for r in bench_store.items(store, run_id) if r["answers"] is not None}
    assert len(snapshot) >= 2 and len(snapshot) < 6

    assert cli.json("jobs", "resume", str(job.id))["status"] == "queued"
    wait_for(lambda: store.get(job.id).status in ("succeeded", "failed"), 240, "the resumed job to finish")
    assert store.get(job.id).status == "succeeded", store.get(job.id).error
    after = {r["item_id"]: r for r in bench_store.items(store, run_id)}
    assert all(r["status"] in ("judged", "unparsed") for r in after.values())
    assert all(r["generations"] == 1 for r in after.values())  # nothing was answered twice
    for item_id, old in snapshot.items():
        assert after[item_id]["answered_at"] == old["answered_at"] and after[item_id]["answers"] == old["answers"]
        if old["status"] in ("judged", "unparsed"):
            assert after[item_id]["judged_at"] == old["judged_at"] and after[item_id]["judge_attempts"] == old["judge_attempts"]
    assert bench_store.get_run(store, run_id).status == "succeeded"
    # The resumed worker said how many it found finished: at least the ones judged before the kill.
    resumed = re.findall(r"(\d+) of 6 items already judged", open(store.get(job.id).log_path).read())
    assert int(resumed[-1]) >= sum(1 for r in before if r["status"] in ("judged", "unparsed"))


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def served_default(home, tmp_path, default_model_dir):
    """``bailong serve default`` on a free loopback port, with an API key."""
    port, key = free_port(), "judge-key-4711"
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "default", "--home", str(home.root), "--port", str(port),
                                "--api-key", key], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"

    def up():
        if process.poll() is not None:
            raise AssertionError((tmp_path / "serve.log").read_text())
        try:
            request = urllib.request.Request(f"{url}/models", headers={"Authorization": f"Bearer {key}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(up, 120, "bailong serve to answer", poll=0.5)
        yield url, key
    finally:
        stop_server(process)
        log.close()


def test_end_to_end_default_model_judged_through_bailong_serve(cli, home, served_default, monkeypatch):
    from core.judge import JudgeError, OpenAIJudge

    url, key = served_default
    with pytest.raises(JudgeError, match="refused the API key"):
        OpenAIJudge(url, "default", api_key="wrong-key", retries=0).complete([{"role": "user", "content": "hi"}])

    monkeypatch.setenv("BAILONG_JUDGE_API_KEY", key)
    # Run directly rather than through cli.run: answering and judging on a busy CPU can outlast its 120 s limit.
    result = subprocess.run([sys.executable, "-m", "core.cli", "bench", "run", "--model", "default", "--judge", url,
                             "--limit", "2", "--max-new-tokens", "8", "--judge-max-tokens", "12", "--json", "--home",
                             str(home.root)], capture_output=True, text=True, cwd=REPO, timeout=480)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded" and data["job"]["status"] == "succeeded"
    assert data["judge"] == f"(first served model) @ {url}" and data["summary"]["finished"] == 2
    run_id = data["id"]

    shown = cli.json("bench", "show", str(run_id))
    assert [i["category"] for i in shown["items"]] == ["arithmetic", "logic"]  # a limit spreads over categories
    for item in shown["items"]:
        assert item["answers"] and item["generations"] == 1
        # The judge really answered over HTTP (a declined or failed request would read "(no judgement: ...)").
        assert item["judge_output"] and "(no judgement" not in item["judge_output"] and item["judge_attempts"] in (1, 2)
        assert item["status"] in ("judged", "unparsed")
        if item["status"] == "unparsed":
            assert item["score"] is None and "--- retry ---" in item["judge_output"]

    compared = cli.json("bench", "compare", str(run_id), str(run_id))
    assert compared["rows"][-1]["category"] == "overall"
    # The key reached the worker but was never stored: not in the database, the payload, the log or the key file.
    assert key.encode() not in home.database.read_bytes()
    assert key not in open(cli.store.get(data["job"]["id"]).log_path).read()
    assert not bench_store.secret_path(cli.store, run_id).exists()
