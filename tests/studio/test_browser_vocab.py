"""The Vocabulary tab in a real browser: a bad count is refused in one line; learning a small vocabulary on
the bundled sample runs as a job and the report, plot and token list appear.

Uses the studio and browser fixtures of ``test_browser``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.studio.test_browser import SCREENSHOTS_ENV, page, pytestmark, studio  # noqa: F401  (fixtures)


def _fill(page, elem_id: str, value: str) -> None:
    page.locator(f"#{elem_id} input, #{elem_id} textarea").first.fill(value)


def test_vocab_tab_learns_and_shows_the_report(studio, page, home, tmp_path, default_model_dir):
    page.goto(studio)
    page.get_by_role("tab", name="Vocabulary").click()

    _fill(page, "vocab-new-tokens", "0")
    page.locator("#vocab-learn").click()
    page.get_by_text("vocab.new_tokens: must be at least 1").first.wait_for(timeout=15_000)
    assert "Traceback" not in page.content()

    _fill(page, "vocab-new-tokens", "300")
    _fill(page, "vocab-name", "sample-vocab")
    page.locator("#vocab-learn").click()
    page.locator("#vocab-status").filter(has_text="queued job").wait_for(timeout=15_000)
    page.locator("#vocab-status").filter(has_text="finished").wait_for(timeout=180_000)

    report = page.locator("#vocab-report")
    report.filter(has_text="held-out tokens per character").wait_for(timeout=15_000)
    assert "300" in report.inner_text()
    assert page.locator("#vocab-plot svg.vocab-plot circle").count() >= 2
    tokens = page.locator("#vocab-tokens")
    tokens.filter(has_text=" + ").wait_for(timeout=15_000)  # "piece + piece" cells of the token list
    assert tokens.inner_text().count(" + ") >= 5
    assert (home.root / "tokenizers" / "sample-vocab" / "tokenizer.json").is_file()

    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "vocab.png"), full_page=True)
