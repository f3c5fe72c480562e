"""Extending a SentencePiece BPE tokenizer (Llama 2 style) the way Bailong extended Llama 2.

Such a tokenizer reads text as characters (a character missing from the vocabulary falls back to its
UTF-8 byte pieces ``<0xE8>`` …) and repeatedly merges the adjacent pair whose concatenation is the
best-scoring vocabulary piece. Bailong, like Chinese-LLaMA before it, appended the pieces learned on
Chinese text to the SentencePiece model. We do the same, scoring every new piece below every original
one, so all original merges still happen first and text the base could segment keeps its segmentation
(Chinese-LLaMA gave new pieces score 0, which lets them pre-empt original merges).
A fast ``tokenizer.json`` spells that rule as an explicit merge list, sorted by the score of the piece a
merge builds. The extension therefore adds every split of a new piece into two vocabulary pieces, plus
each split of an original piece that a new piece makes possible, placed with that original piece's
merges. A test checks that the fast tokenizer and ``sentencepiece`` running the merged model agree.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import ModelError
from core.tokenizer_extend import SPACE, merge_entries, merge_pairs

_BYTE_PIECE = re.compile(r"^<0x[0-9A-F]{2}>$")
_SPM_BPE = 2  # TrainerSpec.ModelType.BPE
_SPM_NORMAL = 1  # ModelProto.SentencePiece.Type.NORMAL


def is_byte_piece(piece: str) -> bool:
    return bool(_BYTE_PIECE.match(piece))


def piece_text(piece: str) -> str:
    return piece.replace(SPACE, " ")


def metaspace_prepend_scheme(spec: dict[str, Any]) -> str:
    """How the base marks the start of text: ``never`` when its normaliser already prepends ``▁``."""
    def find(part: Any) -> str | None:
        if not isinstance(part, dict):
            return None
        if part.get("type") == "Metaspace":
            return part.get("prepend_scheme", "always" if part.get("add_prefix_space", True) else "never")
        for sub in part.get("pretokenizers", []) or []:
            if (found := find(sub)) is not None:
                return found
        return None

    return find(spec.get("pre_tokenizer")) or "never"


def _splits(piece: str, vocab: dict[str, int]) -> list[tuple[str, str]]:
    pairs = [(piece[:i], piece[i:]) for i in range(1, len(piece)) if piece[:i] in vocab and piece[i:] in vocab]
    return sorted(pairs, key=lambda pair: (vocab[pair[0]], vocab[pair[1]]))


def extended_spec(spec: dict[str, Any], pieces: list[str], first_id: int) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """A copy of ``spec`` with ``pieces`` appended from ``first_id`` on; returns it and the (piece, id) entries."""
    spec = json.loads(json.dumps(spec))
    model = spec["model"]
    vocab: dict[str, int] = model["vocab"]
    original = merge_pairs(model["merges"])
    base_pieces = list(vocab)
    added: list[tuple[str, int]] = []
    for offset, piece in enumerate(pieces):
        if piece in vocab:
            raise ModelError(f"new piece {piece!r} is already in the vocabulary")
        vocab[piece] = first_id + offset
        added.append((piece, first_id + offset))
    new = {piece for piece, _ in added}

    tail: list[tuple[str, str]] = []
    for piece, _ in added:
        if len(piece) == 1:
            continue  # a character is a starting symbol, not the result of a merge
        splits = _splits(piece, vocab)
        if not splits:
            raise ModelError(f"new piece {piece!r} cannot be built from two vocabulary pieces")
        tail.extend(splits)
    # Original pieces that a new piece gives another way to build, e.g. (new "▁th") + "e" = "▁the".
    opened: dict[str, list[tuple[str, str]]] = {}
    for piece in base_pieces:
        if len(piece) > 1 and not is_byte_piece(piece):
            extra = [(l, r) for l, r in _splits(piece, vocab) if l in new or r in new]
            if extra:
                opened[piece] = extra
    last_merge_of = {l + r: i for i, (l, r) in enumerate(original)}
    merges: list[tuple[str, str]] = []
    for i, (left, right) in enumerate(original):
        merges.append((left, right))
        if last_merge_of[left + right] == i:
            merges.extend(opened.pop(left + right, []))
    # An original piece no original merge could build (rare) becomes reachable only through new pieces.
    merges.extend(pair for extra in opened.values() for pair in extra)
    merges.extend(tail)
    model["merges"] = merge_entries(merges, model["merges"])
    return spec, added


def merged_model(base_model: bytes, pieces: list[str], first_id: int) -> bytes | None:
    """The base SentencePiece model with ``pieces`` appended, scored below every original piece; None when
    its pieces do not line up with the fast tokenizer's ids (``first_id`` pieces), so appending would misnumber them."""
    try:
        from sentencepiece import sentencepiece_model_pb2 as model_pb2
    except ImportError as error:  # protobuf missing
        raise ModelError(f"cannot edit the SentencePiece model ({error}); install protobuf") from None
    proto = model_pb2.ModelProto.FromString(base_model)
    if len(proto.pieces) != first_id:
        return None
    if proto.trainer_spec.model_type != _SPM_BPE:
        raise ModelError("the base tokenizer.model is not a SentencePiece BPE model")
    lowest = min((p.score for p in proto.pieces if p.type == _SPM_NORMAL), default=0.0)
    for offset, piece in enumerate(pieces):
        entry = proto.pieces.add()
        entry.piece, entry.score, entry.type = piece, lowest - 1.0 - offset, _SPM_NORMAL
    return proto.SerializeToString()
