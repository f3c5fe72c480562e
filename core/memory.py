"""Deciding how many decoder layers to checkpoint, and measuring process memory.

Gradient checkpointing trades a second forward pass for memory. Rather than switch it on for every layer,
``grad_checkpointing: auto`` measures what one decoder layer keeps for its backward pass on a batch of the
real shape, then checkpoints only as many layers as needed to keep all activations under the run's
activation budget. Layers left alone run once; on a CPU that is most of the speed there is to gain.
"""

from __future__ import annotations

import ctypes
import functools
import math
import sys

import torch
from torch.utils.checkpoint import checkpoint


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def saved_bytes_per_layer(layer: torch.nn.Module, hidden: torch.Tensor, **layer_kwargs) -> int:
    """Bytes one layer saves for backward on ``hidden``, counting shared storages once."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen.setdefault(storage.data_ptr(), storage.nbytes())
        return t

    probe = hidden.detach().requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = layer(probe, **layer_kwargs)
    del out
    seen.pop(probe.untyped_storage().data_ptr(), None)
    return sum(seen.values()) + hidden.numel() * hidden.element_size()


def layers_to_checkpoint(n_layers: int, per_layer: int, checkpointed_cost: int, budget: int) -> int:
    """Fewest checkpointed layers so that kept activations fit ``budget`` bytes (all layers if none fits)."""
    if n_layers * per_layer <= budget:
        return 0
    # k checkpointed layers keep only their input; the rest keep everything; one recompute is in flight.
    for k in range(1, n_layers + 1):
        if (n_layers - k) * per_layer + k * checkpointed_cost + per_layer <= budget:
            return k
    return n_layers


def enable_checkpointing(layers: list[torch.nn.Module], count: int) -> None:
    """Checkpoint ``count`` layers, spread evenly, so peak memory stays flat through the stack."""
    func = functools.partial(checkpoint, use_reentrant=False)
    chosen = {math.floor(i * len(layers) / count) for i in range(count)} if count else set()
    for index, layer in enumerate(layers):
        layer.gradient_checkpointing = index in chosen
        layer._gradient_checkpointing_func = func


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise), e.g. after loading weights."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass


def peak_rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
