"""The bundled benchmark validates against its schema and the loaders map other formats onto it."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from core.bench_data import BUNDLED, CATEGORIES, BenchQuestion, load_bench, spread
from core.errors import DataError
from core.script_detect import simplified_only


def test_bundled_file_validates_against_the_schema():
    rows = [json.loads(line) for line in BUNDLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [BenchQuestion.model_validate(row) for row in rows]  # raises on any schema violation
    assert len(questions) >= 120 and len({q.id for q in questions}) == len(questions)
    by_category = Counter(q.category for q in questions)
    assert set(by_category) == set(CATEGORIES) and len(CATEGORIES) >= 12
    for category in CATEGORIES:
        assert {q.language for q in questions if q.category == category} == {"zh", "en"}, category
    assert all(len(q.turns) == 3 for q in questions if q.category == "multi_turn")
    assert all(q.expected_language == "zh" for q in questions if q.category == "translation_en_tc")
    assert all(q.expected_language == "en" for q in questions if q.category in ("translation_tc_en", "english_instructions"))
    assert sum(q.has_reference for q in questions) >= 40
    assert load_bench(None) == questions


def test_chinese_text_is_traditional_only():
    text = BUNDLED.read_text(encoding="utf-8")
    assert simplified_only(text) == []


def test_mt_bench_jsonl_maps_to_the_schema(tmp_path):
    path = tmp_path / "questions.jsonl"
    rows = [
        {"question_id": 81, "category": "writing", "turns": ["Write a travel blog post.", "Rewrite it in one line."]},
        {"question_id": 101, "category": "reasoning", "turns": ["請問 2+2 等於多少？"], "reference": ["4"]},
        {"question_id": 102, "category": "translation", "turns": ["請把「早安」翻譯成英文。"]},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    questions = load_bench(str(path))
    assert [q.id for q in questions] == ["81", "101", "102"]
    assert questions[0].language == "en" and questions[0].expected_for_turn(1) == "en" and questions[0].reference is None
    assert questions[1].language == "zh" and questions[1].reference == ["4"]
    assert questions[2].expected_language == "en"


def test_official_json_list_maps_to_the_schema(tmp_path):
    path = tmp_path / "Bailong-bench.json"
    path.write_text(json.dumps([{"id": "a1", "category": "寫作", "question": "請寫一首短詩。"},
                                {"id": "a2", "category": "math", "turns": ["What is 3*3?"], "answer": "9"}],
                               ensure_ascii=False), encoding="utf-8")
    questions = load_bench(str(path))
    assert [(q.id, q.language, q.turns) for q in questions] == [("a1", "zh", ["請寫一首短詩。"]), ("a2", "en", ["What is 3*3?"])]
    assert questions[1].reference == ["9"]


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ('{"question_id": 1, "turns": ["a"]}\nnot json', ".jsonl", ":2: not valid JSON"),
    ('{"question_id": 1, "category": "x"}', ".jsonl", "no question text"),
    ('{"id": "x", "category": "c", "language": "zh", "expected_language": "fr", "turns": ["q"]}', ".jsonl", "expected_language"),
    ('{"a": 1}', ".json", "expected a list"),
    ("hello", ".txt", "expected a .json or .jsonl"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, suffix, message):
    path = tmp_path / f"bench{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as error:
        load_bench(str(path))
    assert "\n" not in str(error.value)


def test_hub_id_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="offline") as error:
        load_bench("INX-TEXT/Bailong-bench")
    assert "\n" not in str(error.value)
    with pytest.raises(DataError, match="no such benchmark"):
        load_bench("/nonexistent/file.jsonl")


def test_a_limit_spreads_over_categories():
    questions = load_bench(None)
    picked = spread(questions, 20)
    assert len(picked) == 20 and len({q.category for q in picked}) == len(CATEGORIES)
    assert spread(questions, None) == questions and spread(questions, 1000) == questions
