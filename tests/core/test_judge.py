"""The judge's score parser on a table of real-looking judge replies, the prompts, and the one retry."""

from __future__ import annotations

import pytest

from core.judge import OpenAIJudge, JudgeError, JudgeRefused, judge_answers, judge_messages, parse_score

# (judge reply, expected score or None for "unparsed")
TABLE = [
    ("The answer is correct and concise. [[8]]", 8.0),
    ("Rating: [[7]]", 7.0),
    ("評分：[[7]]", 7.0),
    ("評分：［［７］］", 7.0),
    ("回答完整且正確。\n［［１０］］", 10.0),
    ("[[ 9 ]]", 9.0),
    ("[[6.5]]", 6.5),
    ("[[7/10]]", 7.0),
    ("Overall [[0]] because it is empty.", 0.0),
    ("[[8]]\n\nTo repeat my verdict: [[8]]", 8.0),
    ("Rating: 7/10", 7.0),
    ("Rating: 7 / 10", 7.0),
    ("**Rating:** 6", 6.0),
    ("**Score**: 4/10", 4.0),
    ("Score - 5", 5.0),
    ("I would give it a score of 3.", 3.0),
    ("The rating is 9 points.", 9.0),
    ("評分：7分", 7.0),
    ("分數為 6.5", 6.5),
    ("得分：八分", 8.0),
    ("評分：十分", 10.0),
    ("Good structure. 8/10", 8.0),
    ("I'd say 7 out of 10.", 7.0),
    # malformed or ambiguous: recorded as unparsed, never guessed
    ("", None),
    ("The answer is helpful and accurate.", None),
    ("7", None),
    ("[[11]]", None),
    ("[[-1]]", None),
    ("Rating: 12/10", None),
    ("Score: 85/100", None),
    ("[[7]] ... on reflection [[4]]", None),
    ("Rating: [[rating]]", None),
    ("[[seven]]", None),
    ("[7]", None),
    ("Rating: 7/10 and Score: 3", None),
    ("評分：[[十]]", None),
]


@pytest.mark.parametrize(("reply", "expected"), TABLE)
def test_parse_score(reply, expected):
    assert parse_score(reply) == expected


def test_table_is_large_and_has_malformed_cases():
    assert len(TABLE) >= 30
    assert sum(1 for _, e in TABLE if e is None) >= 10


def test_prompts_follow_language_turns_and_reference():
    en = judge_messages(["What is 2+3?"], ["5"], language="en", reference=["5"])
    assert en[0]["role"] == "system" and "[[" in en[0]["content"]
    assert "Reference answer" in en[1]["content"] and "What is 2+3?" in en[1]["content"]
    zh = judge_messages(["二加三等於多少？"], ["五"], language="zh")
    assert "評分" in zh[0]["content"] and "參考答案" not in zh[1]["content"] and "二加三" in zh[1]["content"]
    multi = judge_messages(["Q1", "Q2", "Q3"], ["A1", "A2", "A3"], language="zh", reference=["", "R2", ""])
    body = multi[1]["content"]
    assert body.index("Q1") < body.index("A1") < body.index("Q2") < body.index("R2") < body.index("A2") < body.index("Q3") < body.index("A3")
    assert "最後" in body


class ScriptedJudge:
    """Stands in for a remote model's replies so the retry rule itself is what is tested."""

    name = "scripted"

    def __init__(self, *replies: str) -> None:
        self.replies, self.seen = list(replies), []

    def complete(self, messages):
        self.seen.append(messages)
        return self.replies.pop(0)


def test_one_retry_then_unparsed_is_recorded():
    judge = ScriptedJudge("Looks fine.", "[[6]]")
    result = judge_answers(judge, ["Q"], ["A"], language="en")
    assert (result.score, result.attempts) == (6.0, 2)
    assert "--- retry ---" in result.output and "[[N]]" in judge.seen[1][-1]["content"]

    judge = ScriptedJudge("Looks fine.", "Still no number.")
    result = judge_answers(judge, ["問"], ["答"], language="zh")
    assert result.score is None and not result.parsed and result.attempts == 2
    assert "格式" in judge.seen[1][-1]["content"]

    judge = ScriptedJudge("[[9]]")
    assert judge_answers(judge, ["Q"], ["A"], language="en").attempts == 1


def test_a_refused_request_is_unparsed_not_fatal():
    class Refusing:
        name = "refusing"

        def complete(self, messages):
            raise JudgeRefused("judge x refused: HTTP 400: prompt too long")

    result = judge_answers(Refusing(), ["Q"], ["A"], language="en")
    assert result.score is None and "prompt too long" in result.output


def test_unreachable_endpoint_is_one_line_and_hides_the_key():
    judge = OpenAIJudge("http://127.0.0.1:9/v1", "m", api_key="sk-secret-123", timeout_s=1, retries=0)
    with pytest.raises(JudgeError) as error:
        judge.complete([{"role": "user", "content": "hi"}])
    assert "\n" not in str(error.value) and "sk-secret-123" not in str(error.value)
    with pytest.raises(Exception, match="not an http"):
        OpenAIJudge("ftp://x", "m")
