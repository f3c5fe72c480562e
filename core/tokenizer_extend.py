"""Surgery on a byte-level BPE ``tokenizer.json``: append learned merges and vocabulary entries.

A learned token is appended to the BPE *model* (a vocabulary entry plus the merge that builds it) rather
than registered as an "added token": added tokens are matched greedily in the raw text before
pre-tokenisation, so they would swallow pieces of neighbouring words and spaces. As model entries, the
new merges rank after every original merge, so the original segmentation happens first and the new
merges only join what it produced. Encoding stays lossless by construction: every new entry is the
exact concatenation of the two entries its merge joins, and the byte-level decoder maps it back.
SentencePiece BPE tokenizers (Llama 2 style) are the other family we extend (``core.sentencepiece_extend``);
the rest (Unigram, WordPiece, BPE without bytes to fall back on) are refused with a message naming what was found.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.errors import ModelError

BYTE_LEVEL = "byte-level"
SENTENCEPIECE = "sentencepiece"
SPACE = "▁"  # SentencePiece's stand-in for a space


def _bytes_to_unicode() -> dict[int, str]:
    """The GPT-2 byte-level alphabet: printable bytes stand for themselves, the rest shift past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shift = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shift)
            shift += 1
    return table


BYTE_CHARS = _bytes_to_unicode()
CHAR_BYTES = {char: byte for byte, char in BYTE_CHARS.items()}


def token_bytes(token: str) -> bytes:
    """The raw bytes a byte-level token string stands for."""
    return bytes(CHAR_BYTES[c] for c in token)


def token_text(token: str) -> str:
    """A byte-level token as readable text; a token that ends inside a character shows its bytes escaped."""
    return token_bytes(token).decode("utf-8", errors="backslashreplace")


def tokenizer_json(tokenizer: Any) -> dict[str, Any]:
    """The fast tokenizer's full definition as a mutable dict."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelError(f"cannot extend a slow (Python) tokenizer of type {type(tokenizer).__name__}; a fast tokenizer.json is needed")
    return json.loads(backend.to_str())


def _has_byte_level(part: Any) -> bool:
    if not isinstance(part, dict):
        return False
    if part.get("type") == "ByteLevel":
        return True
    return any(_has_byte_level(p) for p in part.get("pretokenizers", []) or part.get("decoders", []))


def _uses_metaspace(part: Any) -> bool:
    if not isinstance(part, dict):
        return False
    if part.get("type") == "Metaspace":
        return True
    if part.get("type") == "Replace" and part.get("content") == SPACE:
        return True  # the older Llama 2 tokenizer.json: a normaliser that turns spaces into ▁
    return any(_uses_metaspace(p) for p in part.get("pretokenizers", []) or part.get("normalizers", []))


def _is_sentencepiece_bpe(spec: dict[str, Any]) -> bool:
    model = spec.get("model") or {}
    return (model.get("type") == "BPE" and bool(model.get("byte_fallback"))
            and (_uses_metaspace(spec.get("pre_tokenizer")) or _uses_metaspace(spec.get("normalizer"))))


def _missing_byte_pieces(spec: dict[str, Any]) -> int:
    vocab = spec["model"]["vocab"]
    return sum(1 for b in range(256) if f"<0x{b:02X}>" not in vocab)


def tokenizer_family(spec: dict[str, Any]) -> str | None:
    """``byte-level`` or ``sentencepiece`` for the two BPE families we extend, else None."""
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        return None
    if _has_byte_level(spec.get("pre_tokenizer")) and _has_byte_level(spec.get("decoder")):
        return BYTE_LEVEL
    return SENTENCEPIECE if _is_sentencepiece_bpe(spec) else None


def check_extendable(tokenizer: Any) -> dict[str, Any]:
    """The tokenizer's definition, or a ModelError naming the kind of tokenizer we cannot extend."""
    spec = tokenizer_json(tokenizer)
    model = spec.get("model") or {}
    kind = model.get("type", "unknown")
    family = tokenizer_family(spec)
    name = type(tokenizer).__name__
    if family is None:
        described = "SentencePiece Unigram" if kind == "Unigram" else f"{kind} (neither byte-level nor SentencePiece-style)"
        raise ModelError(
            f"cannot extend a {described} tokenizer ({name}); vocabulary extension supports byte-level BPE "
            "(GPT-2, SmolLM, Llama 3, Qwen style) and SentencePiece BPE with byte fallback (Llama 2 style)"
        )
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise ModelError("cannot extend a BPE tokenizer that uses subword prefixes/suffixes; byte-level BPE without them is supported")
    if family == SENTENCEPIECE and (missing := _missing_byte_pieces(spec)):
        raise ModelError(
            f"cannot extend this SentencePiece-style BPE tokenizer ({name}): {missing} of its 256 byte-fallback pieces "
            "are missing, so text it has no pieces for would be lost"
        )
    return spec


def base_fingerprint(spec: dict[str, Any]) -> str:
    """A short hash of the base vocabulary and merges: tells an extended tokenizer's base apart from others."""
    model = spec["model"]
    digest = hashlib.sha256(json.dumps([sorted(model["vocab"].items()), merge_pairs(model["merges"])]).encode())
    return digest.hexdigest()[:16]


def merge_pairs(merges: list[Any]) -> list[tuple[str, str]]:
    # tokenizers writes merges as [a, b] pairs (newer) or "a b" strings (older files).
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges]  # type: ignore[misc]


def merge_entries(pairs: list[tuple[str, str]], like: list[Any]) -> list[Any]:
    """``pairs`` written the way the merges in ``like`` are written (pairs, or "a b" strings)."""
    as_lists = bool(like) and isinstance(like[0], list)
    return [[left, right] if as_lists else f"{left} {right}" for left, right in pairs]


def next_free_id(spec: dict[str, Any]) -> int:
    used = list(spec["model"]["vocab"].values()) + [t["id"] for t in spec.get("added_tokens", [])]
    return max(used) + 1


def extended_spec(spec: dict[str, Any], merges: list[tuple[str, str]]) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """A copy of ``spec`` with ``merges`` appended; returns it and the (token, id) entries it added.

    Byte characters missing from the base vocabulary come first: without them the base silently drops
    those bytes (e.g. every code point from U+40000 up), so the extended tokenizer is lossless where the
    base was not. A merge whose result is already in the vocabulary adds a path but no entry.
    """
    spec = json.loads(json.dumps(spec))
    model = spec["model"]
    vocab: dict[str, int] = model["vocab"]
    added: list[tuple[str, int]] = []
    next_id = next_free_id(spec)
    for char in BYTE_CHARS.values():
        if char not in vocab:
            vocab[char] = next_id
            added.append((char, next_id))
            next_id += 1
    for left, right in merges:
        if left not in vocab or right not in vocab:
            raise ModelError(f"learned merge ({left!r}, {right!r}) joins a piece missing from the vocabulary")
        joined = left + right
        if joined not in vocab:
            vocab[joined] = next_id
            added.append((joined, next_id))
            next_id += 1
    model["merges"] = model["merges"] + merge_entries(merges, model["merges"])
    return spec, added
