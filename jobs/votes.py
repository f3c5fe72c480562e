"""Compare's votes: storing one judgement of two answers, and the running win/tie/loss table per model pair.

A vote keeps the whole conversation, both answers and the generation settings, so the table can later
become preference data. Pairs are counted regardless of which side each model was shown on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.errors import BailongError
from jobs.models import Vote, utcnow

WINNERS = ("a", "b", "tie", "both_bad")


class VoteError(BailongError):
    reason = "bad vote"


def record_vote(store, *, model_a: str, model_b: str, winner: str, conversation: list[dict[str, Any]],
                answer_a: str, answer_b: str, blind: bool = True, settings: dict[str, Any] | None = None) -> Vote:
    if winner not in WINNERS:
        raise VoteError(f"winner: {winner!r} is not one of {', '.join(WINNERS)}")
    if not answer_a or not answer_b:
        raise VoteError("both models must answer before a vote")
    vote = Vote(model_a=model_a, model_b=model_b, winner=winner, blind=blind, conversation=list(conversation),
                answer_a=answer_a, answer_b=answer_b, settings=settings, created_at=utcnow())
    with store.db.write() as session, session.begin():
        session.add(vote)
    return vote


def list_votes(store, limit: int | None = None) -> list[Vote]:
    query = select(Vote).order_by(Vote.id.desc())
    if limit:
        query = query.limit(limit)
    with store.db.read() as session:
        return list(session.scalars(query))


@dataclass
class PairRecord:
    first: str
    second: str
    first_wins: int = 0
    second_wins: int = 0
    ties: int = 0
    both_bad: int = 0

    @property
    def total(self) -> int:
        return self.first_wins + self.second_wins + self.ties + self.both_bad


def pair_table(store) -> list[PairRecord]:
    """One row per unordered model pair, most-voted first; ``first`` is the alphabetically first model."""
    records: dict[tuple[str, str], PairRecord] = {}
    for vote in list_votes(store):
        first, second = sorted((vote.model_a, vote.model_b))
        record = records.setdefault((first, second), PairRecord(first, second))
        if vote.winner == "tie":
            record.ties += 1
        elif vote.winner == "both_bad":
            record.both_bad += 1
        elif (vote.model_a if vote.winner == "a" else vote.model_b) == first:
            record.first_wins += 1
        else:
            record.second_wins += 1
    return sorted(records.values(), key=lambda r: (-r.total, r.first, r.second))
