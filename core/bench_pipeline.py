"""Running Bailong-bench: answer every item with the model under test, then judge and apply the rules.

The pipeline knows nothing of databases: it takes the items' current state (answers already cached are
kept) and a sink that records each answer and each judgement as soon as it exists, so a run killed
halfway picks up where it stopped. Answers are generated in batches through the model's chat template
(``ChatEngine.generate_batch``), turn by turn: a multi-turn item sees its own earlier answers, as a
user would. Items are sorted by prompt length so a batch pads little. Each batch is judged right after
it is answered, so results appear while the run goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from core.bench_rules import RuleHit, check_item, final_score
from core.judge import Judge, Judgment, judge_answers

DEFAULT_BATCH = 8


@dataclass
class ItemState:
    item_id: str
    category: str
    language: str
    turns: list[str]
    expected_languages: list[str]
    reference: list[str] | None = None
    answers: list[str] | None = None
    status: str = "pending"  # pending | answered | judged | unparsed

    @property
    def answered(self) -> bool:
        return self.answers is not None and len(self.answers) == len(self.turns)

    @property
    def judged(self) -> bool:
        return self.status in ("judged", "unparsed")


class ResultSink(Protocol):
    def save_answers(self, item_id: str, answers: list[str]) -> None: ...

    def save_judgment(self, item_id: str, judgment: Judgment, hits: list[RuleHit], score: float | None) -> None: ...


@dataclass
class PipelineReport:
    answered: int = 0
    judged: int = 0
    skipped: int = 0  # finished before this call (a resumed run)
    answer_seconds: float = 0.0
    judge_seconds: float = 0.0
    stopped: bool = False
    notes: list[str] = field(default_factory=list)


def answer_items(engine: Any, items: list[ItemState], settings: Any, *, batch_size: int = DEFAULT_BATCH) -> list[list[str]]:
    """Each item's answers, one per turn, generated ``batch_size`` conversations at a time."""
    conversations: list[list[dict[str, str]]] = [[] for _ in items]
    answers: list[list[str]] = [[] for _ in items]
    for turn in range(max(len(item.turns) for item in items)):
        active = [i for i, item in enumerate(items) if turn < len(item.turns)]
        for i in active:
            conversations[i].append({"role": "user", "content": items[i].turns[turn]})
        replies = engine.generate_batch([conversations[i] for i in active], settings, batch_size=batch_size)
        for i, reply in zip(active, replies):
            text = reply.text.strip()
            answers[i].append(text)
            conversations[i].append({"role": "assistant", "content": text})
    return answers


def judge_item(judge: Judge, item: ItemState) -> tuple[Judgment, list[RuleHit], float | None]:
    answers = item.answers or []
    judgment = judge_answers(judge, item.turns, answers, language=item.language, reference=item.reference)
    hits = check_item(item.expected_languages, answers)
    return judgment, hits, final_score(judgment.score, hits)


def by_prompt_length(items: list[ItemState]) -> list[ItemState]:
    return sorted(items, key=lambda item: (len(item.turns), len(item.turns[0])))


def run_pipeline(items: list[ItemState], engine: Any, judge: Judge, sink: ResultSink, settings: Any, *,
                 batch_size: int = DEFAULT_BATCH, progress: Callable[[int, int, str], None] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> PipelineReport:
    """Answer and judge every unfinished item; finished ones are left exactly as they are."""
    report = PipelineReport(skipped=sum(1 for item in items if item.judged))
    total = 2 * len(items)
    done = sum(item.answered for item in items) + report.skipped

    def tick(message: str) -> None:
        if progress is not None:
            progress(done, total, message)

    tick(f"{report.skipped} of {len(items)} items already judged")
    to_answer = by_prompt_length([item for item in items if not item.answered])
    to_judge = [item for item in items if item.answered and not item.judged]
    for start in range(0, len(to_answer) + 1, batch_size):
        if should_stop():
            report.stopped = True
            return report
        batch = to_answer[start:start + batch_size]
        if batch:
            began = time.perf_counter()
            for item, answers in zip(batch, answer_items(engine, batch, settings, batch_size=batch_size)):
                item.answers, item.status = answers, "answered"
                sink.save_answers(item.item_id, answers)
            report.answer_seconds += time.perf_counter() - began
            report.answered += len(batch)
            done += len(batch)
            tick(f"answered {report.answered} of {len(to_answer)}")
        for item in to_judge + batch:
            if should_stop():
                report.stopped = True
                return report
            began = time.perf_counter()
            judgment, hits, score = judge_item(judge, item)
            sink.save_judgment(item.item_id, judgment, hits, score)
            item.status = "judged" if judgment.parsed or hits else "unparsed"
            report.judge_seconds += time.perf_counter() - began
            report.judged += 1
            done += 1
            shown = "unparsed" if score is None else f"{score:g}"
            tick(f"judged {item.item_id}: {shown}" + (f" ({hits[0].rule})" if hits else ""))
        to_judge = []
    return report
