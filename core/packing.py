"""Turning examples into training sequences, packed end to end or padded, and batching them.

Pre-training joins documents with an EOS separator and cuts the stream into ``seq_len`` blocks, so no
token is padding. SFT renders each conversation with the chat template and labels only assistant tokens
(everything else is -100); with packing on, whole conversations are placed into ``seq_len`` blocks
first-fit-decreasing (so blocks come out nearly full and a batch of them needs almost no padding), and
each keeps its own positions: position ids restart at 0 for every conversation, which makes attention
block-diagonal, so a packed conversation sees exactly what it would see alone. Without packing each
conversation is its own row and batches are padded to their longest row.
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

from core.chat_templates import render_with_assistant_spans, validate_conversation
from core.errors import DataError

IGNORE = -100


@dataclass
class Sequences:
    """Token rows ready for batching; ``labels`` use -100 where no loss is taken."""

    input_ids: list[list[int]] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    # Lengths of the conversations packed into each row; None where rows are not isolated packs.
    segments: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(1 for row in self.labels for t in row if t != IGNORE)


def _render_text(example: dict[str, Any], tokenizer: Any) -> str:
    if "text" in example:
        return example["text"]
    # Conversations given to pre-training are trained on in full, as the template renders them.
    return tokenizer.apply_chat_template(example["messages"], tokenize=False)


def pretrain_sequences(examples: list[dict[str, Any]], tokenizer: Any, seq_len: int, packing: bool) -> Sequences:
    eos = tokenizer.eos_token_id
    out = Sequences()
    texts = [_render_text(e, tokenizer) for e in examples]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    if packing:
        stream: list[int] = []
        for ids in encoded:
            stream.extend(ids)
            stream.append(eos)
        if len(stream) < seq_len:
            # Too little text for one full block: train on what there is rather than refuse.
            out.input_ids.append(stream)
            out.labels.append(list(stream))
            return out
        for start in range(0, len(stream) - seq_len + 1, seq_len):
            block = stream[start : start + seq_len]
            out.input_ids.append(block)
            out.labels.append(list(block))
        return out
    for ids in encoded:
        row = (ids + [eos])[:seq_len]
        if len(row) > 1:
            out.input_ids.append(row)
            out.labels.append(list(row))
    return out


def sft_row(messages: list[dict[str, str]], tokenizer: Any) -> tuple[list[int], list[int]]:
    """One conversation as token ids and labels that are -100 on every non-assistant token."""
    text, spans = render_with_assistant_spans(tokenizer, messages)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoding["input_ids"]
    labels = []
    span_index = 0
    for token_id, (start, end) in zip(ids, encoding["offset_mapping"]):
        while span_index < len(spans) and start >= spans[span_index][1]:
            span_index += 1
        inside = span_index < len(spans) and spans[span_index][0] <= start < spans[span_index][1]
        labels.append(token_id if inside else IGNORE)
    return ids, labels


def sft_sequences(examples: list[dict[str, Any]], tokenizer: Any, seq_len: int, packing: bool) -> Sequences:
    rows: list[tuple[list[int], list[int]]] = []
    truncated = 0
    for number, example in enumerate(examples, start=1):
        if "messages" not in example:
            raise DataError(f"example {number}: SFT needs conversations, but this record is plain text; use stage: pretrain")
        validate_conversation(example["messages"], f"example {number}")
        ids, labels = sft_row(example["messages"], tokenizer)
        if len(ids) > seq_len:
            truncated += 1
            ids, labels = ids[:seq_len], labels[:seq_len]
        if any(t != IGNORE for t in labels[1:]):
            rows.append((ids, labels))
    if truncated:
        warnings.warn(f"{truncated} conversation(s) longer than data.seq_len={seq_len} were truncated", stacklevel=2)
    if not rows:
        raise DataError("no conversation has an assistant token left to train on within data.seq_len")
    out = Sequences()
    if not packing:
        for ids, labels in rows:
            out.input_ids.append(ids)
            out.labels.append(labels)
        return out
    out.segments = []
    for block in pack_first_fit_decreasing([len(ids) for ids, _ in rows], seq_len):
        out.input_ids.append([t for i in block for t in rows[i][0]])
        out.labels.append([t for i in block for t in rows[i][1]])
        out.segments.append([len(rows[i][0]) for i in block])
    return out


def pack_first_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Indices grouped into bins of at most ``capacity`` tokens, longest first into the first bin with room.

    Arrival-order packing leaves on average half a conversation empty at the end of every block; sorted
    first-fit fills blocks to within a few tokens, which is what turns packing into fewer, fuller steps.
    The result is deterministic, and each bin keeps its conversations in their original order.
    """
    bins: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        size = lengths[index]
        target = next((b for b, free in enumerate(room) if free >= size), None)
        if target is None:
            bins.append([index])
            room.append(capacity - size)
        else:
            bins[target].append(index)
            room[target] -= size
    return [sorted(b) for b in bins]


def build_sequences(stage: str, examples: list[dict[str, Any]], tokenizer: Any, seq_len: int, packing: bool) -> Sequences:
    builder = sft_sequences if stage == "sft" else pretrain_sequences
    sequences = builder(examples, tokenizer, seq_len, packing)
    if not len(sequences):
        raise DataError("the training data produced no sequences (every example was empty)")
    return sequences


def split_eval(sequences: Sequences, fraction: float, seed: int) -> tuple[Sequences, Sequences]:
    if fraction <= 0 or len(sequences) < 2:
        return sequences, Sequences()
    order = list(range(len(sequences)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, math.floor(len(order) * fraction))
    def pick(idx: list[int]) -> Sequences:
        segments = None if sequences.segments is None else [sequences.segments[i] for i in idx]
        return Sequences([sequences.input_ids[i] for i in idx], [sequences.labels[i] for i in idx], segments)

    return pick(sorted(order[n_eval:])), pick(sorted(order[:n_eval]))


def epoch_order(n: int, epoch: int, seed: int) -> list[int]:
    """The row order of one epoch; a pure function of (seed, epoch) so a resumed run sees the same order."""
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def _packed_positions(segments: list[int], width: int) -> list[int]:
    """Positions restarting for every packed conversation; the padding tail counts as one more segment, so
    real tokens never attend to it and no attention mask is needed at all."""
    positions = [p for n in segments for p in range(n)]
    return positions + list(range(width - len(positions)))


def batches(sequences: Sequences, batch_size: int, epoch: int, seed: int, pad_id: int) -> Iterator[dict[str, Any]]:
    """Batches of one epoch as padded tensors (padding is masked out of attention and loss).

    Isolated packs also carry ``position_ids``; ``attention_mask`` then only counts real tokens.
    """
    import torch

    order = epoch_order(len(sequences), epoch, seed)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        width = max(len(sequences.input_ids[i]) for i in index)
        ids = torch.full((len(index), width), pad_id, dtype=torch.long)
        labels = torch.full((len(index), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(index), width), dtype=torch.long)
        for row, i in enumerate(index):
            n = len(sequences.input_ids[i])
            ids[row, :n] = torch.tensor(sequences.input_ids[i])
            labels[row, :n] = torch.tensor(sequences.labels[i])
            mask[row, :n] = 1
        batch = {"input_ids": ids, "labels": labels, "attention_mask": mask}
        if sequences.segments is not None:
            batch["position_ids"] = torch.tensor([_packed_positions(sequences.segments[i], width) for i in index])
        yield batch


def batches_per_epoch(n_sequences: int, batch_size: int) -> int:
    return math.ceil(n_sequences / batch_size)
