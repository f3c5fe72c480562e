"""Studio benchmark: cold start to first served page, and the Jobs-list refresh, with 1,000 jobs in history.

Both are measured against a baseline taken in the same run on an empty workspace, so the ratio shows
what a long history costs; the absolute figures are checked against the targets (start <= 5 s, refresh
<= 200 ms). The studio runs as a real ``bailong studio`` process and is timed until its first page
answers over HTTP; no model is loaded at start.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.jobs.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
JOBS = 1000


def cold_start_s(home: Path) -> float:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "studio", "--home", str(home), "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the studio did not answer within 120 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def refresh_ms(home: Path, repeats: int = 20) -> float:
    from core.workspace import resolve_home
    from jobs.store import JobStore
    from studio.views import jobs_for_list, jobs_table_html

    store = JobStore(resolve_home(home))
    try:
        timings = []
        for _ in range(repeats):
            t = time.perf_counter()
            jobs_table_html(jobs_for_list(store))
            timings.append((time.perf_counter() - t) * 1000)
        return statistics.median(timings)
    finally:
        store.close()


def main() -> None:
    from core.workspace import resolve_home
    from jobs.store import JobStore, seed_history

    empty = Path(tempfile.mkdtemp(prefix="bench-studio-empty-"))
    full = Path(tempfile.mkdtemp(prefix="bench-studio-full-"))
    store = JobStore(resolve_home(full))
    seed_history(store, JOBS)
    store.close()
    cold_start_s(empty)  # warm the OS file cache once, so neither side pays for first reads of the code
    base_start, full_start = cold_start_s(empty), cold_start_s(full)
    base_refresh, full_refresh = refresh_ms(empty), refresh_ms(full)
    print(f"studio cold start: {full_start:.2f} s with {JOBS} jobs vs {base_start:.2f} s empty "
          f"({full_start / base_start:.2f}x; target <= 5 s: {'PASS' if full_start <= 5 else 'FAIL'})")
    print(f"job list refresh: {full_refresh:.1f} ms with {JOBS} jobs vs {base_refresh:.1f} ms empty "
          f"({full_refresh / max(base_refresh, 1e-6):.2f}x; target <= 200 ms: {'PASS' if full_refresh <= 200 else 'FAIL'})")


if __name__ == "__main__":
    main()
