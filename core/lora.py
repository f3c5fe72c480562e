"""Putting LoRA adapters on a (quantised) base model the Bailong way.

Bailong trains LoRA on every linear projection and also on ``embed_tokens`` and ``lm_head``, so the
model can move its token representations towards Traditional Chinese without unfreezing the full
embedding matrices. The base stays frozen; only adapter weights train.
"""

from __future__ import annotations

from typing import Any

import torch

from core import lean_lora
from core.config import LoraConfig
from core.errors import ConfigError

EMBEDDING_MODULES = ("embed_tokens", "lm_head")


def linear_module_names(model: torch.nn.Module) -> list[str]:
    """Short names of the linear projections inside the decoder (what 'all-linear' means)."""
    head = model.get_output_embeddings()
    names = set()
    for full_name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            names.add(full_name.rsplit(".", 1)[-1])
    return sorted(names)


def target_modules(model: torch.nn.Module, lora: LoraConfig) -> list[str]:
    available = linear_module_names(model)
    if lora.targets == "all-linear":
        targets = list(available)
    else:
        unknown = [t for t in lora.targets if t not in available and t not in EMBEDDING_MODULES]
        if unknown:
            raise ConfigError(f"lora.targets: unknown module(s) {', '.join(unknown)}; this model has: {', '.join(available)}")
        targets = list(lora.targets)
    if lora.embeddings:
        targets += [m for m in EMBEDDING_MODULES if m not in targets]
    return targets


def attach_lora(model: Any, lora: LoraConfig, quantized: bool):
    """Freeze the base, wrap it with LoRA adapters and route them through the lean autograd path."""
    import peft

    if quantized:
        model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    peft_config = peft.LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=target_modules(model, lora),
        task_type="CAUSAL_LM",
    )
    model = peft.get_peft_model(model, peft_config)
    lean_lora.install(model)
    return model


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
