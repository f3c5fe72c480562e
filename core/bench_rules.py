"""Bailong-bench's hard rules: deterministic checks that zero a score whatever the judge said.

Two rules, as in the original benchmark: an answer must be in the language the item expects (the user's
language, or a translation's target), and it must not contain a single Simplified-only character. Both
run on every turn's answer. Each hit carries a readable reason (which turn, which language was found,
which characters) that the results show beside the score. An answer with no letters at all ("37") has
no language to get wrong, so the language rule leaves it to the judge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core.script_detect import answer_language, simplified_only

LANGUAGE_NAMES = {"zh": "Traditional Chinese", "en": "English", "unknown": "no recognisable language"}
MAX_LISTED_CHARS = 20


@dataclass
class RuleHit:
    rule: str  # wrong_language | simplified_chinese
    turn: int  # 1-based
    reason: str
    chars: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_answer(answer: str, expected_language: str, turn: int = 1) -> list[RuleHit]:
    hits = []
    found = answer_language(answer)
    if found != "unknown" and found != expected_language:
        hits.append(RuleHit("wrong_language", turn, f"turn {turn}: answered in {LANGUAGE_NAMES[found]}, "
                                                    f"expected {LANGUAGE_NAMES[expected_language]}"))
    simplified = simplified_only(answer)
    if simplified:
        listed = "".join(simplified[:MAX_LISTED_CHARS]) + ("…" if len(simplified) > MAX_LISTED_CHARS else "")
        hits.append(RuleHit("simplified_chinese", turn, f"turn {turn}: Simplified Chinese characters {listed}", simplified))
    return hits


def check_item(expected_languages: list[str], answers: list[str]) -> list[RuleHit]:
    """All rule hits over an item's answers; ``expected_languages`` has one entry per turn."""
    return [hit for turn, (answer, expected) in enumerate(zip(answers, expected_languages), start=1)
            for hit in check_answer(answer, expected, turn)]


def final_score(judge_score: float | None, hits: list[RuleHit] | list[dict[str, Any]]) -> float | None:
    """0 when any rule fired (even if the judge's reply was unreadable), else the judge's score."""
    if hits:
        return 0.0
    return judge_score
