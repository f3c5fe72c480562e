"""Bailong-bench questions: the item schema, the bundled benchmark, and loaders for other benchmark files.

Every source becomes the same list of ``BenchQuestion``: the bundled file (``assets/bench``, written
for this project), the official Bailong-bench JSON (a file the user supplies, or its hub id when online),
and MT-Bench-style JSONL (``question_id``, ``category``, ``turns`` and an optional ``reference``). An
item knows the language it is asked in and the language its answer must be in, which the rule layer
enforces (a translation item expects the target language). Bad input is one ``DataError`` line naming
the file and line.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from core.errors import DataError

BUNDLED = Path(__file__).resolve().parent.parent / "assets" / "bench" / "bailong_bench.jsonl"
BUNDLED_NAME = "bundled"
# The bundled benchmark's categories, in the order results and the radar chart show them.
CATEGORIES = (
    "arithmetic", "logic", "knowledge", "open_qa", "extraction", "summarization", "creative_writing",
    "copywriting", "roleplay", "advice", "translation_en_tc", "translation_tc_en", "english_instructions",
    "multi_turn",
)
Language = Literal["zh", "en"]
_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_TRANSLATE_TO_EN = re.compile(r"(翻譯成英文|翻成英文|譯成英文|翻译成英文|into english|to english)", re.IGNORECASE)
_TRANSLATE_TO_ZH = re.compile(r"(翻譯成中文|翻成中文|翻譯成繁體|翻成繁體|into (traditional )?chinese|to (traditional )?chinese)", re.IGNORECASE)


class BenchQuestion(BaseModel):
    """One benchmark item: up to three user turns, answered turn by turn, judged as a whole."""

    id: str = Field(min_length=1, max_length=64, description="unique within the benchmark")
    category: str = Field(min_length=1, max_length=32)
    language: Language = Field(description="the language the question is written in")
    expected_language: Language | list[Language] = Field(
        description="the language the answer must be in; one per turn when it changes (e.g. 'now translate it')")
    turns: list[str] = Field(min_length=1, max_length=3, description="the user's messages")
    reference: list[str] | None = Field(None, description="reference answers, one per turn ('' where none)")

    @field_validator("turns")
    @classmethod
    def _non_empty_turns(cls, turns: list[str]) -> list[str]:
        if any(not t.strip() for t in turns):
            raise ValueError("turns must not be empty")
        return turns

    @model_validator(mode="after")
    def _lengths_match(self) -> "BenchQuestion":
        if isinstance(self.expected_language, list) and len(self.expected_language) != len(self.turns):
            raise ValueError(f"expected_language has {len(self.expected_language)} entries for {len(self.turns)} turns")
        if self.reference is not None and len(self.reference) != len(self.turns):
            raise ValueError(f"reference has {len(self.reference)} entries for {len(self.turns)} turns")
        return self

    def expected_for_turn(self, turn: int) -> str:
        return self.expected_language[turn] if isinstance(self.expected_language, list) else self.expected_language

    @property
    def has_reference(self) -> bool:
        return bool(self.reference and any(r.strip() for r in self.reference))


def _where(path: Path | str, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def _question(data: dict[str, Any], where: str) -> BenchQuestion:
    try:
        return BenchQuestion.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "item"
        raise DataError(f"{where}: {field}: {first['msg']}") from None


def _check_unique(questions: list[BenchQuestion], source: str) -> list[BenchQuestion]:
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise DataError(f"{source}: item id {q.id!r} appears twice")
        seen.add(q.id)
    if not questions:
        raise DataError(f"{source}: no benchmark items")
    return questions


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object")
        rows.append((number, row))
    return rows


def guess_language(text: str) -> str:
    """zh when the text is mostly CJK, else en; used only for sources that do not say."""
    cjk = len(_CJK.findall(text))
    letters = sum(ch.isalpha() for ch in text)
    return "zh" if letters and cjk / letters > 0.3 else "en"


def _expected_from_text(category: str, first_turn: str, language: str) -> str:
    """The answer's language for sources that do not say: the question's, or a translation's target."""
    if _TRANSLATE_TO_EN.search(first_turn) or "tc_en" in category or "zh_en" in category:
        return "en"
    if _TRANSLATE_TO_ZH.search(first_turn) or "en_tc" in category or "en_zh" in category:
        return "zh"
    return language


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v is not None]


def _from_foreign(row: dict[str, Any], where: str, *, id_default: str) -> BenchQuestion:
    """An MT-Bench-style or official Bailong-bench record mapped onto ``BenchQuestion``."""
    turns = _as_list(row.get("turns") or row.get("turn") or row.get("question") or row.get("instruction")
                     or row.get("prompt") or row.get("input"))
    if not turns:
        raise DataError(f"{where}: no question text (expected 'turns', 'question', 'instruction' or 'prompt')")
    category = str(row.get("category") or row.get("type") or row.get("task") or "uncategorised")[:32]
    language = row.get("language") if row.get("language") in ("zh", "en") else guess_language(turns[0])
    expected = row.get("expected_language") or _expected_from_text(category, turns[0], language)
    reference = _as_list(row.get("reference") or row.get("references") or row.get("answer") or row.get("output"))
    reference = (reference + [""] * len(turns))[:len(turns)] if reference else None
    item_id = str(row.get("question_id") or row.get("id") or id_default)
    return _question({"id": item_id, "category": category, "language": language, "expected_language": expected,
                      "turns": turns, "reference": reference}, where)


def spread(questions: list[BenchQuestion], limit: int | None) -> list[BenchQuestion]:
    """The first ``limit`` items taken round-robin over categories, so a short run still covers them all."""
    if not limit or limit >= len(questions):
        return list(questions)
    queues: dict[str, list[BenchQuestion]] = {}
    for q in questions:
        queues.setdefault(q.category, []).append(q)
    picked: list[BenchQuestion] = []
    while len(picked) < limit:
        for queue in queues.values():
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


def load_bundled(path: Path = BUNDLED) -> list[BenchQuestion]:
    return _check_unique([_question(row, _where(path, n)) for n, row in _read_jsonl(path)], str(path))


def load_mt_bench_jsonl(path: Path) -> list[BenchQuestion]:
    questions = [_from_foreign(row, _where(path, n), id_default=f"q{n}") for n, row in _read_jsonl(path)]
    return _check_unique(questions, str(path))


def load_bailong_json(path: Path) -> list[BenchQuestion]:
    """The official Bailong-bench JSON: a list of records, or an object holding one (by id or under a key)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            data = lists[0]
        elif all(isinstance(v, dict) for v in data.values()):
            data = [{"id": key, **value} for key, value in data.items()]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: expected a list of question records")
    return _check_unique([_from_foreign(r, f"{path}[{i}]", id_default=f"q{i + 1}") for i, r in enumerate(data)], str(path))


def _load_hub(repo_id: str, cache_dir: Path | None) -> list[BenchQuestion]:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise DataError(f"{repo_id}: the hub is offline (HF_HUB_OFFLINE is set); download the benchmark JSON and pass its path")
    from huggingface_hub import list_repo_files, hf_hub_download

    try:
        files = [f for f in list_repo_files(repo_id, repo_type="dataset") if f.endswith((".json", ".jsonl"))
                 and "template" not in f.lower()]
        if not files:
            raise DataError(f"{repo_id}: the dataset has no .json or .jsonl file")
        local = Path(hf_hub_download(repo_id, files[0], repo_type="dataset", cache_dir=cache_dir))
    except DataError:
        raise
    except Exception as error:  # network, auth, missing repo: one line either way
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{repo_id}: could not fetch the benchmark from the hub ({first})") from None
    return load_bench(str(local))


def load_bench(source: str | None, *, cache_dir: Path | None = None) -> list[BenchQuestion]:
    """Questions from ``bundled`` (or None), a .jsonl file (ours or MT-Bench style), a .json file, or a hub id."""
    if not source or source == BUNDLED_NAME:
        return load_bundled()
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix == ".jsonl":
            rows = _read_jsonl(path)
            ours = rows and all("expected_language" in r and "id" in r for _, r in rows)
            return load_bundled(path) if ours else load_mt_bench_jsonl(path)
        if path.suffix == ".json":
            return load_bailong_json(path)
        raise DataError(f"{path}: expected a .json or .jsonl benchmark file")
    if re.fullmatch(r"[\w.-]+/[\w.-]+", source) and not path.exists():
        return _load_hub(source, cache_dir)
    raise DataError(f"{source}: no such benchmark file (give 'bundled', a .json/.jsonl path or a hub id org/name)")
