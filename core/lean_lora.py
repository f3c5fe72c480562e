"""A memory-lean forward/backward for LoRA on a frozen (optionally 4-bit) linear layer.

peft's LoRA over a bitsandbytes ``Linear4bit`` keeps, per projection, a copy of the input for the 4-bit
matmul and another for the dropped-out LoRA input. Seven projections a layer, thirty layers: most of the
activation memory of a small model goes to these copies. This autograd function computes the same
``W x + s · B A dropout(x)`` but saves only the input itself (which q/k/v and gate/up share, so one copy
serves several projections), a one-byte dropout mask and the rank-r intermediate; the frozen weight is
dequantised again in the backward pass instead of being kept. With less to keep, training can skip
gradient checkpointing, the largest avoidable cost on a CPU.

The maths is exactly peft's (tests compare gradients against it); modules this does not cover (8-bit
bases, DoRA, merged or several active adapters) keep peft's own forward.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F


def _dense_weight(base: torch.nn.Module, dtype: torch.dtype) -> torch.Tensor:
    weight = base.weight
    quant_state = getattr(weight, "quant_state", None)
    if quant_state is None:
        return weight.to(dtype)
    import bitsandbytes.functional as bnbf

    if getattr(quant_state, "packing_format_for_cpu", False):
        # bitsandbytes repacks 4-bit weights for its CPU inference kernel when a module runs in eval mode;
        # undo that so the standard dequantisation applies again.
        weight.data, weight.quant_state = bnbf._convert_weight_packed_for_cpu_inverse(weight.data, quant_state)
        quant_state = weight.quant_state
    return bnbf.dequantize_4bit(weight.data, quant_state).to(dtype)


def dropout_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """Keep-mask for dropout with drop probability ``p``, one byte per element."""
    # Comparing uniform samples is about twice as fast on CPU as bernoulli_ on a bool tensor.
    return torch.rand_like(x) >= p


class _LeanLoRALinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lora_a, lora_b, base, scaling: float, p: float):
        weight = _dense_weight(base, x.dtype)
        out = F.linear(x, weight, base.bias.to(x.dtype) if base.bias is not None else None)
        del weight
        mask = None
        dropped = x
        if p > 0:
            mask = dropout_mask(x, p)
            dropped = torch.mul(x, mask).mul_(1.0 / (1.0 - p))
        down = F.linear(dropped, lora_a)
        out.add_(F.linear(down, lora_b), alpha=scaling)
        ctx.save_for_backward(x, mask, down, lora_a, lora_b)
        ctx.base, ctx.scaling, ctx.p = base, scaling, p
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, mask, down, lora_a, lora_b = ctx.saved_tensors
        scaling, p = ctx.scaling, ctx.p
        g = grad_out.reshape(-1, grad_out.shape[-1])
        x2 = x.reshape(-1, x.shape[-1])
        down2 = down.reshape(-1, down.shape[-1])
        grad_down = (g @ lora_b) * scaling
        grad_b = (g.t() @ down2) * scaling if ctx.needs_input_grad[2] else None
        grad_a = None
        if ctx.needs_input_grad[1]:
            dropped = x2 if mask is None else x2 * mask.reshape(-1, mask.shape[-1]) / (1.0 - p)
            grad_a = grad_down.t() @ dropped
        grad_x = None
        if ctx.needs_input_grad[0]:
            lora_part = grad_down @ lora_a
            if mask is not None:
                lora_part = lora_part * mask.reshape(-1, mask.shape[-1]) / (1.0 - p)
            grad_x = torch.addmm(lora_part, g, _dense_weight(ctx.base, g.dtype)).reshape(x.shape)
        return grad_x, grad_a, grad_b, None, None, None


def _lean_forward(self, x: torch.Tensor, *args, **kwargs):
    adapters = self.active_adapters
    if (
        self.disable_adapters
        or self.merged
        or len(adapters) != 1
        or adapters[0] not in self.lora_A
        or self.use_dora.get(adapters[0], False)
        or not (torch.is_grad_enabled() or self.training)
    ):
        return self._peft_forward(x, *args, **kwargs)
    name = adapters[0]
    dropout = self.lora_dropout[name]
    p = float(getattr(dropout, "p", 0.0)) if self.training else 0.0
    lora_a, lora_b = self.lora_A[name].weight, self.lora_B[name].weight
    return _LeanLoRALinear.apply(x.to(lora_a.dtype), lora_a, lora_b, self.base_layer, float(self.scaling[name]), p)


def _is_supported_base(base: torch.nn.Module) -> bool:
    if base.weight.requires_grad:
        return False
    if type(base) is torch.nn.Linear:
        return True
    try:
        import bitsandbytes as bnb
    except ImportError:
        return False
    return isinstance(base, bnb.nn.Linear4bit)


def install(model: torch.nn.Module) -> int:
    """Route every supported LoRA linear in ``model`` through the lean function; returns how many."""
    from peft.tuners.lora import LoraLayer

    count = 0
    for module in model.modules():
        if not isinstance(module, LoraLayer) or not hasattr(module, "lora_A") or not isinstance(module.base_layer, torch.nn.Linear):
            continue
        if not _is_supported_base(module.base_layer) or hasattr(module, "_peft_forward"):
            continue
        module._peft_forward = module.forward
        module.forward = types.MethodType(_lean_forward, module)
        count += 1
    return count
