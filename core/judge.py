"""LLM-as-judge for Bailong-bench: the judge prompts, the judges, and reading a score out of their replies.

A judge is anything that turns chat messages into text: an OpenAI-compatible endpoint (a hosted model,
or ``bailong serve`` on this machine) or a local model from the catalog through ``core.inference``. The
prompt follows the question's language (Traditional Chinese or English) and has four shapes: single- or
multi-turn, with or without a reference answer. Judges are asked for ``[[N]]``; replies that drift from
the format are read by a small set of strict patterns, and anything still ambiguous is recorded as
*unparsed* after one retry rather than guessed. API keys live only in memory: they are never written
to the database, the job payload or a log line.
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from core.errors import BailongError, ConfigError

SCORE_MIN, SCORE_MAX = 0.0, 10.0
JUDGE_MAX_TOKENS = 512
DEFAULT_KEY_ENV = "BAILONG_JUDGE_API_KEY"


class JudgeError(BailongError):
    reason = "judge"


class JudgeRefused(JudgeError):
    """The judge turned down this one request (too long for its context, say); other items may still work."""


# ---- reading the score ----------------------------------------------------------------------------

_NUMBER = r"([+-]?\d+(?:\.\d+)?)"
# The requested format, spaces and an optional "/10" tolerated inside the brackets.
_BRACKETED = re.compile(r"\[\[\s*" + _NUMBER + r"\s*(?:/\s*(\d+))?\s*\]\]")
# "Rating: 7/10", "Score - 8", "評分：7 分", "分數: 6.5/10": a keyword, then the number.
_LABELLED = re.compile(
    r"(?:rating|score|grade|評分|分數|得分|評價)\**\s*(?:is|of|為|是)?\s*[:=\-]?\s*\**\s*" + _NUMBER + r"\s*(?:/\s*(\d+)|分|points?)?",
    re.IGNORECASE,
)
# "7/10" or "7 out of 10" on its own.
_OUT_OF = re.compile(_NUMBER + r"\s*(?:/|out of)\s*(\d+)", re.IGNORECASE)
_CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_CHINESE_SCORE = re.compile(r"(?:評分|分數|得分)\s*[:]?\s*(十|[零〇一二兩三四五六七八九])\s*分")


def _normalise(text: str) -> str:
    # NFKC folds full-width brackets, digits and colons (［［７］］, ：) into their ASCII forms.
    return unicodedata.normalize("NFKC", text or "")


def _value(number: str, scale: str | None) -> float | None:
    if scale is not None and int(scale) != 10:
        return None  # "80/100" is a different scale; converting it would be a guess
    value = float(number)
    return value if SCORE_MIN <= value <= SCORE_MAX else None


def _agreed(matches: list[tuple[str, str | None]]) -> float | None | str:
    """The one score all matches give, None if none parse, "ambiguous" if they disagree or any is invalid."""
    values = [_value(number, scale) for number, scale in matches]
    if not values:
        return None
    if any(v is None for v in values) or len(set(values)) > 1:
        return "ambiguous"
    return values[0]


def parse_score(text: str | None) -> float | None:
    """The 0–10 score in a judge's reply, or None when it has none or it cannot be read without guessing.

    ``[[N]]`` wins when present (every occurrence must agree and lie in range). Otherwise a labelled
    score ("Rating: 7/10", "評分：7分"), then a lone "N/10". Out-of-range values, other scales and
    contradictory scores give None.
    """
    text = _normalise(text or "")
    for pattern in (_BRACKETED, _LABELLED, _OUT_OF):
        found = _agreed([(m.group(1), m.group(2)) for m in pattern.finditer(text)])
        if found == "ambiguous":
            return None
        if found is not None:
            return float(found)
    chinese = {_CHINESE_DIGITS[m.group(1)] for m in _CHINESE_SCORE.finditer(text)}
    return float(chinese.pop()) if len(chinese) == 1 else None


# ---- the prompts ----------------------------------------------------------------------------------

_SYSTEM = {
    "en": ("You are a careful, impartial judge of AI assistants. Judge helpfulness, correctness, depth, clarity "
           "and whether the answer follows every instruction, including the language it must be written in. "
           "Length is not a virtue. Explain your judgement in a few sentences, then give a score from 1 to 10 "
           "in exactly this format: [[score]], for example [[6]]."),
    "zh": ("你是一位謹慎且公正的 AI 助理評審。請依據回答的實用性、正確性、深度、清晰度，以及是否遵守所有指示"
           "（包括規定的作答語言）來評分，篇幅長不代表比較好。請先用幾句話說明理由，最後以 1 到 10 分評分，"
           "格式必須完全是：[[分數]]，例如 [[6]]。"),
}
_WORDS = {
    "en": {"question": "Question", "answer": "Assistant's answer", "reference": "Reference answer",
           "user": "User", "assistant": "Assistant", "dialogue": "Dialogue",
           "single": "Rate the assistant's answer to the question below.",
           "multi": "Rate the assistant's answers in the dialogue below, paying most attention to its last answer.",
           "with_reference": "Compare with the reference answer; an answer that contradicts it on facts or results is wrong.",
           "retry": "Your reply did not contain a score in the required format. Reply with only the score, as [[N]] with N from 1 to 10."},
    "zh": {"question": "問題", "answer": "助理的回答", "reference": "參考答案",
           "user": "使用者", "assistant": "助理", "dialogue": "對話",
           "single": "請評估助理對下列問題的回答。",
           "multi": "請評估助理在下列對話中的回答，並以最後一次回答為重點。",
           "with_reference": "請與參考答案比對；若事實或結果與參考答案矛盾，即為錯誤。",
           "retry": "你的回覆沒有依照規定格式給分。請只回覆分數，格式為 [[N]]，N 為 1 到 10。"},
}


def _section(title: str, body: str) -> str:
    return f"[{title}]\n{body.strip()}\n[/{title}]"


def judge_messages(turns: list[str], answers: list[str], *, language: str, reference: list[str] | None = None) -> list[dict[str, str]]:
    """The chat messages that ask a judge to score ``answers`` to ``turns`` (prompt in the item's language)."""
    lang = "zh" if language == "zh" else "en"
    words = _WORDS[lang]
    parts: list[str] = []
    references = [r for r in (reference or []) if r and r.strip()]
    if len(turns) == 1:
        parts.append(words["single"])
        if references:
            parts.append(words["with_reference"])
        parts.append(_section(words["question"], turns[0]))
        if references:
            parts.append(_section(words["reference"], references[0]))
        parts.append(_section(words["answer"], answers[0] if answers else ""))
    else:
        parts.append(words["multi"])
        if references:
            parts.append(words["with_reference"])
        lines = []
        for i, turn in enumerate(turns):
            lines.append(f"### {words['user']}:\n{turn.strip()}")
            if reference and i < len(reference) and reference[i]:
                lines.append(f"### {words['reference']}:\n{reference[i].strip()}")
            lines.append(f"### {words['assistant']}:\n{(answers[i] if i < len(answers) else '').strip()}")
        parts.append(_section(words["dialogue"], "\n\n".join(lines)))
    return [{"role": "system", "content": _SYSTEM[lang]}, {"role": "user", "content": "\n\n".join(parts)}]


# ---- the judges -----------------------------------------------------------------------------------


class Judge(Protocol):
    name: str

    def complete(self, messages: list[dict[str, str]]) -> str: ...


def _chat_url(url: str) -> str:
    base = url.strip().rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


class OpenAIJudge:
    """Any OpenAI-compatible chat endpoint (``bailong serve``, vLLM, llama.cpp, a hosted API)."""

    def __init__(self, url: str, model: str, *, api_key: str | None = None, timeout_s: float = 600.0,
                 max_tokens: int = JUDGE_MAX_TOKENS, retries: int = 2) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"judge: {url!r} is not an http(s) URL")
        self.url, self.model, self.timeout_s, self.max_tokens, self.retries = _chat_url(url), model, timeout_s, max_tokens, retries
        self._api_key = api_key or None
        self.name = f"{model} @ {url}"

    @staticmethod
    def served_model(url: str, api_key: str | None = None, timeout_s: float = 30.0) -> str:
        """The first model an endpoint lists at ``/v1/models``: the judge when none is named."""
        import httpx

        models_url = _chat_url(url).removesuffix("/chat/completions") + "/models"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = httpx.get(models_url, headers=headers, timeout=timeout_s)
            response.raise_for_status()
            return response.json()["data"][0]["id"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
            message = f"judge {models_url}: could not list the served models ({type(error).__name__}); name one with --judge-model"
            raise JudgeError(_redact(message, api_key)) from None

    def complete(self, messages: list[dict[str, str]]) -> str:
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        body = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": self.max_tokens, "stream": False}
        last = ""
        for attempt in range(self.retries + 1):
            try:
                response = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout_s)
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()["choices"][0]["message"]["content"] or ""
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise JudgeError(f"judge {self.url} returned a reply that is not a chat completion") from None
                if response.status_code in (401, 403):
                    raise JudgeError(f"judge {self.url} refused the API key (HTTP {response.status_code})")
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code < 500 and response.status_code != 429:
                    # A bad request does not get better by asking again, and it concerns this request only.
                    raise JudgeRefused(_redact(f"judge {self.url} refused: {' '.join(last.split())}", self._api_key))
            if attempt < self.retries:
                time.sleep(min(2 ** attempt, 8))
        raise JudgeError(_redact(f"judge {self.url} failed: {' '.join(last.split())}", self._api_key))


class LocalJudge:
    """A model from the catalog, run in this process through ``core.inference`` (greedy decoding)."""

    def __init__(self, engine: Any, *, max_tokens: int = JUDGE_MAX_TOKENS) -> None:
        self.engine, self.max_tokens = engine, max_tokens
        self.name = f"local:{engine.name}"

    def complete(self, messages: list[dict[str, str]]) -> str:
        from core.inference import GenerationError, GenerationSettings

        try:
            return self.engine.generate(messages, GenerationSettings(temperature=0.0, max_new_tokens=self.max_tokens)).text
        except GenerationError as error:
            raise JudgeRefused(f"judge {self.name}: {error}") from None


def api_key_from_env(variable: str | None) -> str | None:
    """The key held by the named environment variable (default ``BAILONG_JUDGE_API_KEY``), if any."""
    return os.environ.get(variable or DEFAULT_KEY_ENV) or None


def is_url(judge: str) -> bool:
    return judge.startswith(("http://", "https://"))


# ---- one judgement --------------------------------------------------------------------------------


@dataclass
class Judgment:
    score: float | None
    output: str  # every judge reply, the retry's after the first's
    attempts: int

    @property
    def parsed(self) -> bool:
        return self.score is not None


def judge_answers(judge: Judge, turns: list[str], answers: list[str], *, language: str,
                  reference: list[str] | None = None, parse: Callable[[str], float | None] = parse_score) -> Judgment:
    """Ask the judge; if its reply has no readable score, ask once more for the score alone."""
    messages = judge_messages(turns, answers, language=language, reference=reference)
    try:
        first = judge.complete(messages)
    except JudgeRefused as refused:
        return Judgment(None, f"(no judgement: {refused})", 1)
    score = parse(first)
    if score is not None:
        return Judgment(score, first, 1)
    lang = "zh" if language == "zh" else "en"
    retry = messages + [{"role": "assistant", "content": first}, {"role": "user", "content": _WORDS[lang]["retry"]}]
    try:
        second = judge.complete(retry)
    except JudgeRefused as refused:
        second = f"(no judgement: {refused})"
    return Judgment(parse(second), f"{first}\n\n--- retry ---\n{second}", 2)
