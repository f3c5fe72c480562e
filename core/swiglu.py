"""A SwiGLU product that keeps two tensors for backward instead of three.

Llama-style MLPs compute ``down(silu(gate(x)) * up(x))``. Autograd keeps ``gate(x)`` for the SiLU and both
``silu(gate(x))`` and ``up(x)`` for the product: three tensors of the intermediate width per layer, the
largest activations in the model. This function keeps ``gate(x)`` and ``up(x)`` and recomputes the SiLU in
the backward pass, which costs one elementwise pass and saves a third of the MLP's activation memory.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F


class _SiluMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(gate, up)
        return F.silu(gate).mul_(up)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        gate, up = ctx.saved_tensors
        sig = torch.sigmoid(gate)
        silu = gate * sig
        grad_up = grad * silu
        # d silu / d gate = sig * (1 + gate * (1 - sig)) = sig + silu * (1 - sig)
        grad_gate = grad * up * (sig + silu * (1 - sig))
        return grad_gate, grad_up


def silu_mul(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return _SiluMul.apply(gate, up)


def _forward(self, x: torch.Tensor) -> torch.Tensor:
    return self.down_proj(silu_mul(self.gate_proj(x), self.up_proj(x)))


def _is_silu(act: torch.nn.Module) -> bool:
    from transformers.activations import SiLUActivation

    return isinstance(act, (torch.nn.SiLU, SiLUActivation))


def install(model: torch.nn.Module) -> int:
    """Use the lean product in every gate/up/down MLP whose activation is SiLU; returns how many."""
    count = 0
    for module in model.modules():
        if all(hasattr(module, n) for n in ("gate_proj", "up_proj", "down_proj", "act_fn")) and _is_silu(module.act_fn):
            module.forward = types.MethodType(_forward, module)
            count += 1
    return count
