"""Attention over isolated packs, one conversation at a time.

A packed SFT row holds several conversations whose positions restart at 0. transformers turns that into
a block-diagonal mask, and SDPA with an explicit mask runs the unfused path: it attends across the whole
row and keeps the full attention-probability matrix for backward (2 x 9 x 512 x 512 floats a layer on the
default model). Here each conversation goes through the fused causal kernel on its own slice instead, so
no mask is built into the math, nothing outside a conversation is computed, and backward keeps only what
the fused kernel keeps. Rows without restarting positions (pre-training, padded batches, generation)
take transformers' own SDPA path unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

NAME = "bailong_packed"


def segment_bounds(positions: list[int]) -> list[tuple[int, int]]:
    """(start, end) of every run of consecutive positions, i.e. of every packed conversation."""
    bounds, start = [], 0
    for i in range(1, len(positions)):
        if positions[i] != positions[i - 1] + 1:
            bounds.append((start, i))
            start = i
    bounds.append((start, len(positions)))
    return bounds


def packed_attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0,
                             scaling: float | None = None, position_ids: torch.Tensor | None = None, **kwargs):
    rows = None if position_ids is None or query.shape[2] != key.shape[2] else position_ids.expand(query.shape[0], -1).tolist()
    bounds = None if rows is None else [segment_bounds(r) for r in rows]
    if bounds is None or all(len(b) == 1 for b in bounds):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    outputs = []
    for b, row_bounds in enumerate(bounds):
        pieces = [
            F.scaled_dot_product_attention(query[b : b + 1, :, s:e], key[b : b + 1, :, s:e], value[b : b + 1, :, s:e],
                                           is_causal=True, dropout_p=dropout if module.training else 0.0, scale=scaling)
            for s, e in row_bounds
        ]
        outputs.append(torch.cat(pieces, dim=2))
    return torch.cat(outputs, dim=0).transpose(1, 2).contiguous(), None


def install(model) -> None:
    """Route the model's attention through ``packed_attention_forward`` (masks stay SDPA's)."""
    AttentionInterface.register(NAME, packed_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)
    model.config._attn_implementation = NAME
    for sub in model.modules():
        config = getattr(sub, "config", None)
        if config is not None and config is not model.config and hasattr(config, "_attn_implementation"):
            config._attn_implementation = NAME
