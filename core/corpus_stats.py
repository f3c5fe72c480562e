"""What is in a corpus: counts, script shares, lengths, frequent n-grams and tokenizer cost.

``CorpusStats`` is fed one example at a time while a corpus is written, so statistics of a large corpus
cost one pass and bounded memory: running totals, a length histogram with power-of-two bins, and a
fixed-seed reservoir sample of documents on which the expensive measures run (token counts under a base
tokenizer, most frequent character n-grams and English words). Token totals for corpora larger than the
sample are estimates (characters × the sample's tokens per character) and say so.
"""

from __future__ import annotations

import difflib
import math
import random
import re
from collections import Counter
from typing import Any

from core.corpus_clean import example_text
from core.script_detect import SCRIPTS, script_counts

SAMPLE_DOCS = 2000
NGRAM_SAMPLE_DOCS = 1000
TOP_NGRAMS = 20
_CJK_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile("[A-Za-z][A-Za-z'-]+")


class CorpusStats:
    def __init__(self, sample_size: int = SAMPLE_DOCS, seed: int = 0) -> None:
        self.documents = 0
        self.chars = 0
        self.scripts: Counter[str] = Counter()
        self.simplified_docs = 0
        self.length_bins: Counter[int] = Counter()
        self.sample: list[str] = []
        self._sample_size = sample_size
        self._rng = random.Random(seed)

    def add(self, example: dict[str, Any], scripts: dict[str, int] | None = None) -> None:
        """Count one document; ``scripts`` is its ``script_counts`` when the caller already has them."""
        text = example_text(example)
        scripts = script_counts(text) if scripts is None else scripts
        self.documents += 1
        self.chars += len(text)
        self.scripts.update(scripts)
        if scripts["sc"]:
            self.simplified_docs += 1
        self.length_bins[int(math.log2(len(text))) if text else 0] += 1
        # Reservoir sampling: every document has the same chance to be in the sample.
        if len(self.sample) < self._sample_size:
            self.sample.append(text)
        else:
            slot = self._rng.randrange(self.documents)
            if slot < self._sample_size:
                self.sample[slot] = text

    def summary(self, tokenizer: Any = None) -> dict[str, Any]:
        letters = sum(self.scripts.values())
        shares = {k: (self.scripts[k] / letters if letters else 0.0) for k in SCRIPTS}
        chinese = shares["tc"] + shares["sc"] + shares["shared_cjk"]
        out: dict[str, Any] = {
            "documents": self.documents,
            "chars": self.chars,
            "mean_chars": self.chars / self.documents if self.documents else 0.0,
            "script_shares": shares,
            "chinese_share": chinese,
            "english_share": shares["en"],
            # Of the characters that tell the scripts apart, how many are Simplified.
            "sc_char_rate": shares["sc"] / (shares["sc"] + shares["tc"]) if shares["sc"] + shares["tc"] else 0.0,
            "sc_leak_rate": self.simplified_docs / self.documents if self.documents else 0.0,
            "length_histogram": [{"lo": 2 ** b if b else 0, "hi": 2 ** (b + 1), "count": c}
                                 for b, c in sorted(self.length_bins.items())],
            "sample_docs": len(self.sample),
            "top_bigrams": self._top_cjk(2),
            "top_trigrams": self._top_cjk(3),
            "top_words": Counter(w.lower() for t in self.sample[:NGRAM_SAMPLE_DOCS] for w in _WORD.findall(t)).most_common(TOP_NGRAMS),
        }
        if tokenizer is not None:
            out.update(token_cost(self.sample, self.chars, tokenizer, exact=len(self.sample) == self.documents))
        return out

    def _top_cjk(self, n: int) -> list[tuple[str, int]]:
        counts: Counter[str] = Counter()
        for text in self.sample[:NGRAM_SAMPLE_DOCS]:
            for run in _CJK_RUN.findall(text):
                counts.update(run[i:i + n] for i in range(len(run) - n + 1))
        return counts.most_common(TOP_NGRAMS)


def token_cost(sample: list[str], total_chars: int, tokenizer: Any, *, exact: bool) -> dict[str, Any]:
    """Tokens per character on the sample and the corpus total it implies."""
    sample_chars = sum(len(t) for t in sample)
    if not sample_chars:
        return {"tokens": 0, "tokens_per_char": 0.0, "tokens_estimated": not exact}
    tokens = sum(len(ids) for ids in tokenizer(sample, add_special_tokens=False)["input_ids"])
    per_char = tokens / sample_chars
    return {"tokens": tokens if exact else round(per_char * total_chars), "tokens_per_char": per_char,
            "tokens_estimated": not exact, "tokenizer": getattr(tokenizer, "name_or_path", "")}


def char_diff(before: str, after: str) -> list[tuple[str, str | None]]:
    """``after`` as segments tagged None (unchanged), "+" (inserted) or "-" (removed from ``before``)."""
    segments: list[tuple[str, str | None]] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            segments.append((after[b0:b1], None))
            continue
        if a1 > a0:
            segments.append((before[a0:a1], "-"))
        if b1 > b0:
            segments.append((after[b0:b1], "+"))
    return segments
