"""The rule layer on labelled answers: Traditional, Simplified and English, right and wrong language."""

from __future__ import annotations

import pytest

from core.bench_rules import check_answer, check_item, final_score

# (answer, expected language, rules that must fire)
LABELLED = [
    ("應找回 37 元，因為 3 乘以 45 等於 135，再加上 28 元。", "zh", set()),
    ("台灣最高的山是玉山，海拔約三千九百五十二公尺。", "zh", set()),
    ("後來他在裡面找到了乾淨的麵條。", "zh", set()),  # characters valid in both scripts stay clean
    ("应找回 37 元，因为 3 乘以 45 等于 135。", "zh", {"simplified_chinese"}),
    ("这个问题的答案是玉山。", "zh", {"simplified_chinese"}),
    ("The answer is 37 dollars.", "zh", {"wrong_language"}),
    ("The answer is 37 dollars.", "en", set()),
    ("我們的火車誤點了一個小時。", "en", {"wrong_language"}),
    ("我们的火车晚点了一个小时。", "en", {"wrong_language", "simplified_chinese"}),
    ("Our train was delayed, 所以我們错过了典禮 but that is fine and we went home later.", "en", {"simplified_chinese"}),
    ("37", "zh", set()),
    ("", "en", set()),
]


@pytest.mark.parametrize(("answer", "expected", "rules"), LABELLED)
def test_labelled_answers(answer, expected, rules):
    assert {hit.rule for hit in check_answer(answer, expected)} == rules


def test_reason_lists_the_simplified_characters_and_zeroes_the_score():
    hits = check_answer("这是简体", "zh", turn=2)
    assert hits[0].chars == ["这", "简", "体"]
    assert "这简体" in hits[0].reason and hits[0].reason.startswith("turn 2")
    assert final_score(9.0, hits) == 0.0
    assert final_score(None, hits) == 0.0
    assert final_score(7.5, []) == 7.5
    assert final_score(None, []) is None


def test_each_turn_checked_against_its_own_language():
    # A dialogue whose last turn asks for an English translation.
    hits = check_item(["zh", "zh", "en"], ["通膨是物價上漲。", "存款的購買力下降。", "Inflation means prices rise."])
    assert hits == []
    hits = check_item(["zh", "zh", "en"], ["通膨是物價上漲。", "Savings lose value over time.", "通膨是物價上漲。"])
    assert [(h.rule, h.turn) for h in hits] == [("wrong_language", 2), ("wrong_language", 3)]
