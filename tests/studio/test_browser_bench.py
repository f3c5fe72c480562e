"""The Bailong-bench tab in a real browser: start two small runs, watch them finish, read the radar and an
item's drill-down, compare the runs and export one.

The studio runs as a ``bailong studio`` subprocess (fixtures from test_browser.py); the runs are real jobs
on the tiny model as both the model under test and a local judge. A screenshot goes to
``$BAILONG_SCREENSHOTS/bench.png`` only when that variable is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.jobs.conftest import wait_for
from tests.studio.test_browser import SCREENSHOTS_ENV, page, studio  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium is not installed")


def set_text(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id}").locator("input, textarea").first
    box.fill(value)
    box.blur()


def choose(page, elem_id: str, text: str) -> None:
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option").filter(has_text=text).first.click()


def test_bench_tab_runs_shows_compares_and_exports(studio, page, home, tiny_model_dir):  # noqa: F811
    from jobs import bench_store
    from jobs.store import JobStore

    page.goto(studio)
    page.get_by_role("tab", name="Bailong-bench").click()
    set_text(page, "bench-model", str(tiny_model_dir))
    set_text(page, "bench-judge", str(tiny_model_dir))
    set_text(page, "bench-limit", "3")
    set_text(page, "bench-max-tokens", "4")
    page.locator("#bench-start").click()
    page.locator("#bench-message").filter(has_text="queued Bailong-bench run 1").wait_for(timeout=20_000)
    page.locator("#bench-start").click()
    page.locator("#bench-message").filter(has_text="queued Bailong-bench run 2").wait_for(timeout=20_000)

    store = JobStore(home)
    wait_for(lambda: all(bench_store.get_run(store, r).status == "succeeded" for r in (1, 2)), 240, "both runs to finish", poll=1)
    runs = page.locator("#bench-runs")
    wait_for(lambda: runs.get_by_text("succeeded").count() >= 2, 20, "the runs table to show both runs")

    choose(page, "bench-run", "#1 ")
    summary = page.locator("#bench-summary")
    summary.filter(has_text="3 unparsed").wait_for(timeout=20_000)  # the tiny judge cannot score; recorded, not guessed
    assert "arithmetic" in summary.inner_text() and "logic" in summary.inner_text()
    assert page.locator("#bench-radar polygon.run").count() == 1

    page.locator("#bench-items").get_by_text("logic-zh-01").first.click()
    detail = page.locator("#bench-item")
    detail.filter(has_text="logic-zh-01").wait_for(timeout=15_000)
    text = detail.inner_text()
    assert "Q1:" in text and "甲、乙、丙三人中" in text and "Judge" in text and "no judgement" in text

    choose(page, "bench-compare", "#1 ")
    choose(page, "bench-compare", "#2 ")
    wait_for(lambda: page.locator("#bench-compare-radar polygon.run").count() == 2, 20, "the comparison radar")
    assert page.locator("#bench-compare-table").get_by_text("overall").count() >= 1

    page.get_by_role("button", name="Export CSV").click()
    link = page.locator("#bench-download a").first
    link.wait_for(timeout=15_000)
    assert "bench-run-1.csv" in (link.get_attribute("href") or "")
    with page.expect_download() as saved:
        link.click()
    lines = Path(saved.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("item_id,category,language,status,score")

    if os.environ.get(SCREENSHOTS_ENV):
        folder = Path(os.environ[SCREENSHOTS_ENV]).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(folder / "bench.png"), full_page=True)
