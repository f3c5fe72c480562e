"""Chat and Compare in a real browser against a real studio process: stream an answer, regenerate, export,
then compare two answers blind and vote; the vote must land in the database.

Uses the tiny model (added to the workspace's catalog) so answers take a second. Screenshots go to
``$BAILONG_SCREENSHOTS`` when set (README's chat.png and compare.png), else to a temporary folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.jobs.conftest import wait_for
from tests.studio.test_browser import CHROMIUM, SCREENSHOTS_ENV, page, studio  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (apt-get install chromium)")


@pytest.fixture
def catalog_home(home, tiny_model_dir):
    from jobs.catalog import add_model
    from jobs.store import JobStore

    store = JobStore(home)
    add_model(store, str(tiny_model_dir))
    store.close()
    return home


def pick(page, dropdown_id: str, value: str) -> None:
    box = page.locator(f"#{dropdown_id} input").first
    box.click()
    box.fill(value)
    box.press("Enter")
    page.keyboard.press("Escape")


def set_max_tokens(page, prefix: str, value: str) -> None:
    page.locator(f"#{prefix}-settings").get_by_text("System prompt and generation settings").first.click()
    box = page.locator(f"#{prefix}-max-new-tokens input").first
    # The accordion renders its content as it opens, and a value typed into that first render can be
    # lost (the answer then runs with the default 512 and the tiny model refuses it); type until it stays.
    for _attempt in range(10):
        box.fill(value)
        box.blur()
        page.wait_for_timeout(300)
        if box.input_value() == value:
            return
    raise AssertionError(f"{prefix}: max_new_tokens never kept {value}")


def tidy_screenshot(page, prefix: str, path: Path) -> None:
    """Close the settings and any error toast so the picture shows the conversation."""
    page.locator(f"#{prefix}-settings").get_by_text("System prompt and generation settings").first.click()
    for close in page.locator(".toast-close").all():
        close.click()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)


def wait_for_new_answer(status, before: str, what: str) -> None:
    """The status line changes as soon as an answer starts ("…", elapsed seconds) and ends with tokens/s;
    waiting for a *different* finished line keeps the test from reading the previous answer's status."""
    wait_for(lambda: (text := status.inner_text()) != before and "tokens/s" in text, 120, what, poll=0.05)


def test_chat_then_compare_and_vote(catalog_home, studio, page, tiny_model_dir, tmp_path):  # noqa: F811
    from jobs.store import JobStore
    from jobs.votes import list_votes

    tiny = str(tiny_model_dir)
    screenshots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots").resolve()
    screenshots.mkdir(parents=True, exist_ok=True)
    page.goto(studio)

    # ---- Chat
    page.get_by_role("tab", name="Chat").click()
    pick(page, "chat-model", tiny)
    set_max_tokens(page, "chat", "8")
    page.locator("#chat-send").click()
    page.locator(".toast-body").filter(has_text="the message is empty").first.wait_for(timeout=15_000)

    page.locator("#chat-message textarea").fill("你好，請介紹臺灣。")
    page.locator("#chat-send").click()
    status = page.locator("#chat-status")
    wait_for(lambda: "tokens/s" in status.inner_text(), 120, "the streamed answer")
    assert "8 tokens" in status.inner_text() and "length" in status.inner_text()
    chat = page.locator("#chat-bot")
    assert "你好，請介紹臺灣。" in chat.inner_text()

    before = status.inner_text()
    page.locator("#chat-regenerate").click()
    wait_for_new_answer(status, before, "the regenerated answer")

    # Edit the question and resend: the answer is replaced, the old question is gone.
    # The chatbot re-renders once more when Gradio commits the regenerate event's final State, which can
    # close an edit box opened just before; open it until it stays.
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    editor = page.locator("#chat-bot textarea.edit-textarea")
    for _attempt in range(10):
        page.locator("#chat-bot button[aria-label='Edit']").first.click()
        try:
            editor.wait_for(timeout=3_000)
            page.wait_for_timeout(300)
            editor.fill("請用一句話介紹高雄。", timeout=3_000)
            break
        except PlaywrightTimeout:
            continue
    else:
        raise AssertionError("the edit box never stayed open")
    before = status.inner_text()
    page.locator("#chat-bot button[aria-label='Submit']").click()
    wait_for_new_answer(status, before, "the answer to the edited message")
    assert "高雄" in chat.inner_text()
    assert "臺灣" not in chat.inner_text()

    def export() -> dict:
        page.locator("#chat-export-json").click()
        link = page.locator("#chat-download a").first
        link.wait_for(timeout=15_000)
        with page.expect_download() as download:
            link.click()
        return json.loads(Path(download.value.path()).read_text(encoding="utf-8"))

    # Gradio commits a streamed event's final State a moment after its last visible update; a click in
    # between still sees the question alone, so ask again until the export carries the finished answer.
    def finished_export() -> dict | None:
        data = export()
        return data if len(data["messages"]) == 2 else None

    exported = wait_for(finished_export, 20, "the export with the answer", poll=0.5)
    assert exported["model"] == tiny and [m["role"] for m in exported["messages"]] == ["user", "assistant"]
    assert exported["messages"][0]["content"] == "請用一句話介紹高雄。"
    assert exported["settings"]["max_new_tokens"] == 8
    tidy_screenshot(page, "chat", screenshots / "chat.png")

    # ---- Compare (blind)
    page.get_by_role("tab", name="Compare").click()
    pick(page, "compare-first", tiny)
    pick(page, "compare-second", tiny)
    set_max_tokens(page, "compare", "6")
    page.locator("#compare-message textarea").fill("What is Taipei famous for?")
    page.locator("#compare-send").click()
    names = page.locator("#compare-names")
    wait_for(lambda: "hidden until you vote" in names.inner_text(), 120, "both blind answers")
    page.locator("#vote-a").click()
    wait_for(lambda: "A = " in names.inner_text(), 30, "the names to be revealed")
    assert tiny in names.inner_text()
    wait_for(lambda: "1" in page.locator("#compare-table").inner_text(), 15, "the vote table")

    store = JobStore(catalog_home)
    votes = list_votes(store)
    store.close()
    assert len(votes) == 1 and votes[0].winner == "a" and votes[0].blind
    assert votes[0].model_a == tiny and votes[0].conversation[-1]["content"] == "What is Taipei famous for?"
    assert votes[0].answer_a and votes[0].settings["max_new_tokens"] == 6
    tidy_screenshot(page, "compare", screenshots / "compare.png")
    page.locator("#vote-a").click()
    page.locator(".toast-body").filter(has_text="already has your vote").first.wait_for(timeout=15_000)


def test_simplified_only_characters_are_marked_and_html_is_escaped():
    from studio.chat_tab import mark_simplified

    shown = mark_simplified("这是臺灣 <b>後面</b>")
    assert shown.startswith('<mark class="sc" title="Simplified-only">这</mark>是臺灣')
    assert "&lt;b&gt;後面&lt;/b&gt;" in shown and shown.count("<mark") == 1


def test_settings_from_the_widgets_are_validated():
    from core.inference import GenerationError
    from studio.chat_tab import read_settings

    system, settings, four_bit = read_settings("Be brief.", 0.6, 0.9, 40, 1.1, 64, "###|END", False)
    assert system == [{"role": "system", "content": "Be brief."}] and settings.stop == ["###", "END"] and not four_bit
    with pytest.raises(GenerationError, match="top_p: 0.0 is not allowed"):
        read_settings("", 0.6, 0.0, 40, 1.1, 64, "", False)
