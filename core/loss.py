"""Causal-LM loss that never holds full-vocabulary logits for the whole batch.

With a 49k vocabulary, logits for a 2×512 batch are 200 MB in float32 and the usual cross-entropy makes
several more copies (shifted logits, log-softmax, gradients). Here only the positions that carry a label
are projected, a chunk at a time. When ``lm_head`` is frozen and plain, the gradient with respect to the
hidden states is computed in the same pass (softmax minus one-hot, times the weight), so the backward pass
only scales it: no logits are kept and none are recomputed. Otherwise (LoRA on ``lm_head``) each chunk is
recomputed under activation checkpointing, which keeps memory equally flat.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from core.packing import IGNORE

# 256 positions x 49k vocabulary = 50 MB of float32 logits in flight at a time.
CHUNK_TOKENS = 256


class _FusedFrozenHeadCE(torch.autograd.Function):
    """Summed cross-entropy of ``hidden @ weight.T`` against ``targets``, for a weight that needs no grad."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if hidden.requires_grad else None
        for start in range(0, hidden.shape[0], chunk):
            h = hidden[start : start + chunk]
            t = targets[start : start + chunk]
            logits = (h @ weight.t()).float()
            lse = torch.logsumexp(logits, dim=-1)
            total += (lse - logits.gather(1, t[:, None]).squeeze(1)).sum()
            if grad_hidden is not None:
                # d(sum CE)/d logits = softmax - one_hot, built in place over the logits buffer.
                probs = logits.sub_(lse[:, None]).exp_()
                probs[torch.arange(t.shape[0], device=t.device), t] -= 1.0
                grad_hidden[start : start + chunk] = (probs.to(weight.dtype) @ weight).to(hidden.dtype)
        ctx.save_for_backward(grad_hidden)
        return total

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (grad_hidden,) = ctx.saved_tensors
        return grad_hidden * grad_output.to(grad_hidden.dtype), None, None, None


def _chunk_ce(head: torch.nn.Module, h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(head(h).float(), t, reduction="sum")


def causal_lm_loss(hidden: torch.Tensor, labels: torch.Tensor, head: torch.nn.Module, chunk: int = CHUNK_TOKENS) -> tuple[torch.Tensor, int]:
    """Mean next-token loss over labelled positions, and how many positions carried a label."""
    targets = torch.full_like(labels, IGNORE)
    targets[:, :-1] = labels[:, 1:]
    keep = targets != IGNORE
    count = int(keep.sum())
    if count == 0:
        return hidden.sum() * 0.0, 0
    h = hidden[keep]
    t = targets[keep]
    weight = getattr(head, "weight", None)
    if type(head) is torch.nn.Linear and head.bias is None and not weight.requires_grad:
        total = _FusedFrozenHeadCE.apply(h, weight, t, chunk)
    else:
        total = sum(
            checkpoint(_chunk_ce, head, h[s : s + chunk], t[s : s + chunk], use_reentrant=False)
            for s in range(0, h.shape[0], chunk)
        )
    return total / count, count


def reference_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The textbook shifted cross-entropy over full logits; used by tests and evaluation of tiny batches."""
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=IGNORE)
