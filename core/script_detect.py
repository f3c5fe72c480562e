"""Which Chinese script a text is written in: Traditional, Simplified, or characters both share.

Most CJK characters are valid in both scripts (后 里 干 面 台 只 系 …), so counting "characters that
OpenCC would change" mislabels clean Traditional text. The sets here come from OpenCC's own character
dictionaries: a character is *Simplified-only* when it is a simplified form (a key of STCharacters or a
value of TSCharacters) and never a Traditional form (a key of TSCharacters, a value of STCharacters or a
Taiwan variant); *Traditional-only* is the mirror image. The sets are derived once from the installed
OpenCC (``derive_sets``) and shipped in ``assets/script_detect/`` so import is instant and does not need
OpenCC's command-line tools; a test checks the shipped files still match the installed dictionaries.
Counting uses compiled character classes, so a megabyte of text is scanned in milliseconds.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "script_detect"
SIMPLIFIED_FILE = ASSET_DIR / "simplified_only.txt"
TRADITIONAL_FILE = ASSET_DIR / "traditional_only.txt"

# CJK unified ideographs (basic, extension A, compatibility, supplementary planes B-H).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RUNS = re.compile(f"[{_CJK}]+")
_EN_WORDS = re.compile("[A-Za-z]+")
_LETTER_RUNS = re.compile(r"[^\W\d_]+")
SCRIPTS = ("tc", "sc", "shared_cjk", "en", "other")  # the keys of script_counts / script_shares
# A Chinese word is ~1.5 characters, an English one ~1 word: compare like with like in answer_language.
_CHARS_PER_ZH_WORD = 1.5


_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


class _CharSet:
    """A character class that stays fast: ``re`` scans a class holding supplementary-plane characters
    linearly, so the common BMP-only text uses a BMP-only class and the full class is a fallback."""

    def __init__(self, chars: str) -> None:
        ordered = sorted(chars)
        bmp = "[" + "".join(re.escape(c) for c in ordered if ord(c) < 0x10000) + "]"
        full = "[" + "".join(re.escape(c) for c in ordered) + "]"
        self._bmp, self._all = re.compile(bmp), re.compile(full)
        self._bmp_runs, self._all_runs = re.compile(bmp + "+"), re.compile(full + "+")

    def findall(self, text: str) -> list[str]:
        return (self._all if _ASTRAL_RE.search(text) else self._bmp).findall(text)

    def count(self, text: str, astral: bool | None = None) -> int:
        astral = bool(_ASTRAL_RE.search(text)) if astral is None else astral
        return _run_length((self._all_runs if astral else self._bmp_runs), text)


def _run_length(runs: re.Pattern[str], text: str) -> int:
    # Matching runs rather than single characters keeps the match list short on dense text.
    return sum(map(len, runs.findall(text)))


@lru_cache(maxsize=1)
def _sets() -> tuple[_CharSet, _CharSet]:
    simplified = SIMPLIFIED_FILE.read_text(encoding="utf-8").strip()
    traditional = TRADITIONAL_FILE.read_text(encoding="utf-8").strip()
    return _CharSet(simplified), _CharSet(traditional)


def simplified_only(text: str) -> list[str]:
    """Unique Simplified-only characters of ``text``, in order of first appearance."""
    simplified_re, _ = _sets()
    return list(dict.fromkeys(simplified_re.findall(text)))


def count_simplified(text: str) -> int:
    """How many characters of ``text`` (with repeats) exist only in Simplified Chinese."""
    return _sets()[0].count(text)


def script_counts(text: str) -> dict[str, int]:
    """Letters of ``text`` by script: tc / sc (script-only CJK), shared_cjk, en (ASCII), other letters."""
    simplified_re, traditional_re = _sets()
    letters = _run_length(_LETTER_RUNS, text)
    cjk = _run_length(_CJK_RUNS, text)
    astral = bool(_ASTRAL_RE.search(text))
    sc = simplified_re.count(text, astral)
    tc = traditional_re.count(text, astral)
    en = _run_length(_EN_WORDS, text)
    # CJK ideographs are letters to Python's \w, so "other" is what is neither CJK nor ASCII.
    return {"tc": tc, "sc": sc, "shared_cjk": cjk - tc - sc, "en": en, "other": max(letters - cjk - en, 0)}


def script_shares(text: str) -> dict[str, float]:
    """Shares of the letters of ``text`` per script; all zero for text without letters."""
    counts = script_counts(text)
    total = sum(counts.values())
    return {key: (value / total if total else 0.0) for key, value in counts.items()}


def answer_language(text: str) -> str:
    """``"zh"`` or ``"en"`` by which language carries more words; ``"unknown"`` without either."""
    counts = script_counts(text)
    if is_unknown_language(counts):
        return "unknown"
    zh_words = (counts["tc"] + counts["sc"] + counts["shared_cjk"]) / _CHARS_PER_ZH_WORD
    return "zh" if zh_words >= len(_EN_WORDS.findall(text)) else "en"


def is_unknown_language(counts: dict[str, int]) -> bool:
    """Neither Chinese nor English in ``script_counts``, or other scripts (kana, Hangul …) dominate."""
    known = counts["tc"] + counts["sc"] + counts["shared_cjk"] + counts["en"]
    return known == 0 or counts["other"] > known


# -- deriving the sets from OpenCC's dictionaries (run when OpenCC is upgraded) ------------------------

def _opencc_dictionary(name: str) -> dict[str, list[str]]:
    """One of OpenCC's binary ``.ocd2`` dictionaries as ``{key: [values]}``, via its ``opencc_dict`` tool."""
    import opencc

    clib = Path(opencc.__file__).resolve().parent / "clib"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.txt"
        subprocess.run([str(clib / "bin" / "opencc_dict"), "-i", str(clib / "share" / "opencc" / f"{name}.ocd2"),
                        "-o", str(out), "-f", "ocd2", "-t", "text"], check=True, capture_output=True)
        entries = {}
        for line in out.read_text(encoding="utf-8").splitlines():
            key, _, values = line.partition("\t")
            entries[key] = values.split(" ")
        return entries


def derive_sets() -> tuple[str, str]:
    """(Simplified-only, Traditional-only) characters, sorted, from the installed OpenCC dictionaries.

    Simplified-only: s2t maps it only to other characters and it is never a Traditional form, i.e. never
    written by s2t conversion (character or phrase tables, so 虱 of 虱目魚 stays valid) nor a key of t2s.
    Traditional-only: t2s maps it only to other characters and it is never a simplified form.
    TWPhrases is left out on purpose: it holds typos (類别範本) that would whitelist common Simplified 别.
    """
    st = _opencc_dictionary("STCharacters")
    ts = _opencc_dictionary("TSCharacters")
    ts_ext = _opencc_dictionary("TSCharactersExt")
    written = [st, _opencc_dictionary("STPhrases"), _opencc_dictionary("STPhrases_GeneratedFromRegionalPhrases"),
               _opencc_dictionary("TWVariants")]
    traditional_forms = set(ts) | set(ts_ext) | {c for table in written for v in table.values() for word in v for c in word}
    simplified_forms = set(st) | {c for v in ts.values() for c in v} | {c for v in ts_ext.values() for c in v}
    simplified = {s for s, targets in st.items() if s not in targets and s not in traditional_forms}
    traditional = {t for t, targets in {**ts_ext, **ts}.items() if t not in targets and t not in simplified_forms}
    # Single characters only: a few dictionary keys are multi-character sequences.
    return "".join(sorted(c for c in simplified if len(c) == 1)), "".join(sorted(c for c in traditional if len(c) == 1))


def write_sets() -> None:
    """Regenerate the shipped character sets: ``python -m core.script_detect``."""
    simplified, traditional = derive_sets()
    ASSET_DIR.mkdir(parents=True, exist_ok=True)
    SIMPLIFIED_FILE.write_text(simplified + "\n", encoding="utf-8")
    TRADITIONAL_FILE.write_text(traditional + "\n", encoding="utf-8")
    _sets.cache_clear()


if __name__ == "__main__":
    write_sets()
    print(f"wrote {SIMPLIFIED_FILE} and {TRADITIONAL_FILE}")
