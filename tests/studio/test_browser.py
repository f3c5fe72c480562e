"""The studio in a real browser: fill the Train form, start a job, watch it finish, find it in History.

Runs ``bailong studio`` as a subprocess on a free port with a temporary workspace and drives the Debian
chromium through Playwright. Screenshots of the three tabs go to ``assets/screenshots/`` for the README.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.jobs.conftest import REPO, free_port, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# README's screenshots are refreshed with BAILONG_SCREENSHOTS=assets/screenshots; otherwise a temp folder,
# so a test run leaves the working tree as it found it.
SCREENSHOTS_ENV = "BAILONG_SCREENSHOTS"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (apt-get install chromium)")


def served(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def studio(home, tmp_path):
    port = free_port()
    env = {**os.environ, "BAILONG_SCHEDULER_IDLE_S": "2"}
    log = (tmp_path / "studio.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "studio", "--home", str(home.root), "--port", str(port)],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: served(url) or process.poll() is not None, 90, "the studio to serve its page", poll=0.5)
        assert process.poll() is None, (tmp_path / "studio.log").read_text()
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
        yield context.new_page()
        browser.close()


def fill(page, field: str, value: str) -> None:
    box = page.locator(f"#field-{field.replace('.', '-')}").locator("input, textarea").first
    box.fill(value)
    box.blur()


def test_train_watch_and_find_in_history(studio, page, home, tiny_model_dir, tmp_path):
    from jobs.store import JobStore

    page.goto(studio)
    page.get_by_role("tab", name="Train").click()
    fill(page, "data.seq_len", "8")
    error = page.locator(".prose.field-error").filter(has_text="data.seq_len")
    error.wait_for(state="visible", timeout=15_000)
    assert "greater than or equal to 16" in error.inner_text()

    for group in ("LoRA", "Optimisation"):
        page.get_by_role("button", name=group).click()
    for label, value in [("name", "browser-run"), ("base_model", str(tiny_model_dir)), ("data.seq_len", "32"),
                         ("data.eval_fraction", "0"), ("train.max_steps", "3"), ("train.batch_size", "1"),
                         ("lora.r", "2")]:
        fill(page, label, value)
    preview = page.locator("#yaml-preview")
    wait_for(lambda: "max_steps: 3" in preview.inner_text() and "browser-run" in preview.inner_text(), 15, "the YAML preview")
    error.wait_for(state="hidden", timeout=15_000)
    screenshots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots").resolve()
    screenshots.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "train.png"))

    page.locator("#start-button").click()
    page.locator("#train-status").filter(has_text="queued job 1").wait_for(timeout=15_000)

    page.get_by_role("tab", name="Jobs").click()
    row = page.locator('#jobs-table tr[data-job="1"]')
    row.locator(".status").filter(has_text="running").wait_for(timeout=120_000)
    wait_for(lambda: row.locator(".status").inner_text() in ("succeeded", "failed"), 180, "the job to finish", poll=0.5)
    assert row.locator(".status").inner_text() == "succeeded", JobStore(home).get(1).error
    assert row.locator(".pct").inner_text() == "100%"
    wait_for(lambda: "done, 3 steps" in page.locator("#job-log textarea").input_value(), 15, "the log tail")
    # The loss curve of the finished job is drawn: one point per logged step.
    wait_for(lambda: page.locator("#loss-plot polyline.loss").count() == 1, 15, "the loss curve")
    points = page.locator("#loss-plot polyline.loss").get_attribute("points").split()
    assert len(points) == 3
    page.screenshot(path=str(screenshots / "jobs.png"))

    page.get_by_role("tab", name="History").click()
    table = page.locator("#history-table")
    cell = table.get_by_text("browser-run").filter(visible=True).first
    cell.wait_for(timeout=15_000)
    cell.click()
    page.locator("#history-detail").filter(has_text="browser-run — succeeded").wait_for(timeout=15_000)
    page.locator("#history-artifacts a").filter(has_text="adapter_model.safetensors").wait_for(timeout=15_000)
    page.screenshot(path=str(screenshots / "history.png"))
