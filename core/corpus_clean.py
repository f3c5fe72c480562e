"""The cleaning pipeline of a corpus: a typed recipe and the code that applies it to batches of examples.

Steps run in a fixed order: Unicode normalisation, OpenCC conversion to Traditional Chinese, whitespace
cleanup, optional e-mail/phone scrubbing, length filters and the language filter (deduplication comes
after, in ``core.dedup``). Normalisation is deliberately *not* NFKC, which would turn the full-width
punctuation Traditional Chinese is written with (，。！？（）：；) into ASCII; it composes (NFC), folds
full-width letters and digits and half-width katakana, and drops invisible and control characters.
Conversations keep their turns: every step works on each message's content and the roles never change.
The recipe (``Pipeline``) is stored with the corpus so an import can be repeated exactly.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import DataError
from core.script_detect import is_unknown_language, script_counts

Example = dict[str, Any]

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff0f\uff1a-\uff20"
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f]+")
_CJK_GAP = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
_BLANK_RUNS = re.compile(r"\n{3,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A phone number has a separator inside (so years and plain counts are left alone), or is a TW mobile.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s-]?)?(?:\(\d{1,4}\)\s?|\d{1,4}[\s-])?\d{3,4}[\s-]\d{3,4}(?![\w])"
                    r"|(?<!\d)09\d{8}(?!\d)")
_BATCH_SEPARATOR = "\x1e"  # a control character: normalisation removes it from text, so it can join a batch


def _normalisation_table() -> dict[int, Any]:
    table: dict[int, Any] = {}
    for code in range(0xFF10, 0xFF5B):  # full-width digits and letters (the punctuation between them stays)
        char = chr(code)
        if char.isalnum():
            table[code] = unicodedata.normalize("NFKC", char)
    for code in range(0xFF61, 0xFFA0):  # half-width katakana and their punctuation
        table[code] = unicodedata.normalize("NFKC", chr(code))
    for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), 0x00AD, 0x200B, 0x2060, 0xFEFF]:
        table[code] = None
    table[0x0D] = None  # \r\n and lone \r become \n below
    table[0x2028] = table[0x2029] = "\n"
    return table


_TABLE = _normalisation_table()
# Most documents need no change: finding that out with one scan is cheaper than rebuilding the string.
_NEEDS_TABLE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TABLE)) + "]")
_NEEDS_WHITESPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]|\n\n\n|^\n|\n$")


class Pipeline(BaseModel):
    """How an upload becomes a clean corpus; stored with the corpus so an import can be repeated."""

    model_config = ConfigDict(extra="forbid")

    convert: Literal["s2twp", "s2t", "none"] = Field(
        "s2twp", description="OpenCC conversion: s2twp (Taiwan phrases and vocabulary), s2t (characters only) or none")
    normalize: bool = Field(True, description="Unicode cleanup that keeps full-width CJK punctuation (not NFKC)")
    whitespace: bool = Field(True, description="collapse spaces, trim lines, drop spaces between CJK characters")
    scrub_pii: bool = Field(False, description="replace e-mail addresses and phone numbers with <email> / <phone>")
    min_chars: int = Field(1, ge=0, description="drop documents shorter than this many characters")
    max_chars: int = Field(0, ge=0, description="drop documents longer than this many characters (0: no limit)")
    language_filter: bool = Field(True, description="drop documents that are neither Chinese nor English")
    drop_simplified: bool = Field(False, description="drop documents that still hold Simplified-only characters "
                                                     "(they are always counted as flagged)")
    dedup: Literal["none", "exact", "near"] = Field(
        "exact", description="remove exact duplicates, or exact and near duplicates (MinHash)")
    near_threshold: float = Field(0.8, ge=0.5, le=1.0, description="near-duplicate when estimated Jaccard ≥ this")

    @classmethod
    def parse(cls, data: dict[str, Any] | None) -> "Pipeline":
        try:
            return cls.model_validate(data or {})
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "pipeline"
            raise DataError(f"pipeline.{field}: {first['msg']}") from None


def normalise_text(text: str) -> str:
    if _NEEDS_TABLE.search(text):
        text = text.replace("\r\n", "\n").translate(_TABLE)
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def clean_whitespace(text: str) -> str:
    if not _NEEDS_WHITESPACE.search(text):
        return text
    lines = [_SPACES.sub(" ", line).strip(" \u3000") for line in text.split("\n")]
    text = _CJK_GAP.sub("", "\n".join(lines))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def scrub(text: str) -> str:
    return _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))


def example_text(example: Example) -> str:
    """The words of an example as one string (conversations: every turn's content, one per line)."""
    if "text" in example:
        return example["text"]
    return "\n".join(m["content"] for m in example["messages"])


def _pieces(example: Example) -> list[str]:
    return [example["text"]] if "text" in example else [m["content"] for m in example["messages"]]


def _rebuild(example: Example, pieces: list[str]) -> Example:
    if "text" in example:
        return {"text": pieces[0]}
    return {"messages": [{"role": m["role"], "content": p} for m, p in zip(example["messages"], pieces)]}


class Cleaner:
    """Applies a ``Pipeline`` (all but deduplication) to batches, counting what it changed and dropped."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.counts: Counter[str] = Counter()
        self.last_scripts: list[dict[str, int]] = []
        self._converter = None
        if pipeline.convert != "none":
            import opencc

            self._converter = opencc.OpenCC(pipeline.convert)

    def convert(self, pieces: list[str]) -> list[str]:
        if self._converter is None or not pieces:
            return pieces
        # One OpenCC call per batch instead of per string: the per-call overhead is ~40% of the work.
        if any(_BATCH_SEPARATOR in p for p in pieces):
            return [self._converter.convert(p) for p in pieces]
        converted = self._converter.convert(_BATCH_SEPARATOR.join(pieces)).split(_BATCH_SEPARATOR)
        if len(converted) != len(pieces):  # never expected; keep correctness over speed
            return [self._converter.convert(p) for p in pieces]
        return converted

    def clean_batch(self, examples: list[Example]) -> list[Example | None]:
        """Each example cleaned, or None where a filter dropped it (the reason is counted).

        ``last_scripts`` then holds the ``script_counts`` of each kept example, in order, so statistics
        need not scan the text again.
        """
        p = self.pipeline
        self.last_scripts = []
        flat = [piece for example in examples for piece in _pieces(example)]
        if p.normalize:
            flat = [normalise_text(piece) for piece in flat]
        flat = self.convert(flat)
        if p.whitespace:
            flat = [clean_whitespace(piece) for piece in flat]
        if p.scrub_pii:
            flat = [scrub(piece) for piece in flat]
        out: list[Example | None] = []
        at = 0
        for example in examples:
            n = len(_pieces(example))
            cleaned = _rebuild(example, flat[at:at + n])
            at += n
            out.append(self._filter(example, cleaned))
        return out

    def _filter(self, raw: Example, cleaned: Example) -> Example | None:
        p = self.pipeline
        text = example_text(cleaned)
        length = len(text)
        if length == 0 or not text.strip():
            return self._drop("empty")
        if length < p.min_chars:
            return self._drop("too_short")
        if p.max_chars and length > p.max_chars:
            return self._drop("too_long")
        counts = script_counts(text)
        if p.language_filter and is_unknown_language(counts) and any(counts.values()):
            return self._drop("other_language")
        if counts["sc"]:
            self.counts["simplified_flagged"] += 1
            if p.drop_simplified:
                return self._drop("simplified")
        if p.scrub_pii and ("<email>" in text or "<phone>" in text) and example_text(raw).count("<") < text.count("<"):
            self.counts["pii_scrubbed"] += 1
        if cleaned != raw:
            self.counts["changed"] += 1
        self.last_scripts.append(counts)
        return cleaned

    def _drop(self, reason: str) -> None:
        self.counts[f"dropped_{reason}"] += 1
        return None
