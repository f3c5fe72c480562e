"""Giving new tokens embeddings: resize the model, initialise the new rows by a named strategy, warm them up.

Strategies are registered by name (``@register_init("ziptie")``) and all share one signature, so the
config, the CLI, the report and the tests see one list. Each gets the original matrix, the base pieces
every new token replaces, and which matrix it fills (input embeddings or an untied output head):

- ``ziptie``: input row = mean of the rows of the token's base pieces, so the model reads the new token
  as roughly what it read for those pieces. Output row (untied heads only) = the output row of the
  token's *first* piece: the new token must score where its first piece would have been predicted,
  and averaging in the later pieces, which score low at that position, would bury it.
- ``mean``: every new row = the mean of all original rows (of that matrix).
- ``random``: normal noise with the model's initializer std.

``tie_embeddings`` makes an untied head's new rows copies of the new input rows (for tied models the
two are one matrix anyway). The warm-up trains only the new rows, everything else frozen, before QLoRA.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from core.errors import ConfigError

InitFn = Callable[[torch.Tensor, list[list[int]], str, float], torch.Tensor]
INIT_STRATEGIES: dict[str, InitFn] = {}


def register_init(name: str) -> Callable[[InitFn], InitFn]:
    def wrap(fn: InitFn) -> InitFn:
        INIT_STRATEGIES[name] = fn
        return fn

    return wrap


@register_init("ziptie")
def _ziptie(old: torch.Tensor, pieces: list[list[int]], role: str, std: float) -> torch.Tensor:
    # A byte the base vocabulary lacked has no pieces to tie to: it starts at the mean row.
    rows = _mean(old, pieces, role, std)
    for i, ids in enumerate(pieces):
        if ids:
            chosen = old[torch.tensor(ids[:1] if role == "output" else ids, device=old.device)]
            rows[i] = chosen.float().mean(0).to(old.dtype)
    return rows


@register_init("mean")
def _mean(old: torch.Tensor, pieces: list[list[int]], role: str, std: float) -> torch.Tensor:
    return old.float().mean(0, keepdim=True).to(old.dtype).expand(len(pieces), -1).clone()


@register_init("random")
def _random(old: torch.Tensor, pieces: list[list[int]], role: str, std: float) -> torch.Tensor:
    return torch.randn((len(pieces), old.shape[1]), device=old.device, dtype=torch.float32).mul_(std).to(old.dtype)


def strategy(name: str) -> InitFn:
    if name not in INIT_STRATEGIES:
        raise ConfigError(f"vocab.init: unknown strategy {name!r}; choose from {', '.join(INIT_STRATEGIES)}")
    return INIT_STRATEGIES[name]


def is_tied(model: Any) -> bool:
    head = model.get_output_embeddings()
    return head is None or head.weight is model.get_input_embeddings().weight


def resize_and_init(model: Any, records: list[dict[str, Any]], base_size: int, init: str = "ziptie",
                    tie_embeddings: bool = False) -> Any:
    """Grow the model to ``base_size + len(records)`` rows and fill the new ones (ids in record order)."""
    fill = strategy(init)
    if any(r["id"] != base_size + i for i, r in enumerate(records)):
        raise ConfigError("vocab: new token ids must follow the base vocabulary without gaps")
    pieces = [r["pieces"] for r in records]
    std = float(getattr(model.config, "initializer_range", 0.02))
    head_before = model.get_output_embeddings()
    old_in = model.get_input_embeddings().weight.detach().clone()[:base_size]
    old_out = None if is_tied(model) else head_before.weight.detach().clone()[:base_size]
    model.resize_token_embeddings(base_size + len(records), mean_resizing=False)
    with torch.no_grad():
        new_in = fill(old_in, pieces, "input", std)
        model.get_input_embeddings().weight[base_size:] = new_in
        if old_out is not None:
            new_out = new_in if tie_embeddings else fill(old_out, pieces, "output", std)
            model.get_output_embeddings().weight[base_size:] = new_out
    return model


def new_row_parameters(model: Any) -> list[torch.nn.Parameter]:
    """The embedding matrices that hold new rows (one when tied, two when not)."""
    params = [model.get_input_embeddings().weight]
    if not is_tied(model):
        params.append(model.get_output_embeddings().weight)
    return params


def new_rows_state(model: Any, base_size: int) -> dict[str, torch.Tensor]:
    """The new rows alone: what an adapter cannot rebuild, saved beside it."""
    state = {"embed_tokens": model.get_input_embeddings().weight[base_size:].detach().cpu().contiguous()}
    if not is_tied(model):
        state["lm_head"] = model.get_output_embeddings().weight[base_size:].detach().cpu().contiguous()
    return state


def apply_new_rows(model: Any, state: dict[str, torch.Tensor], base_size: int) -> None:
    """Grow a base model and put saved new rows in place (the inverse of ``new_rows_state``)."""
    rows = state["embed_tokens"]
    model.resize_token_embeddings(base_size + rows.shape[0], mean_resizing=False)
    with torch.no_grad():
        embed = model.get_input_embeddings().weight
        embed[base_size:] = rows.to(embed.device, embed.dtype)
        if not is_tied(model):
            head = model.get_output_embeddings().weight
            head[base_size:] = state.get("lm_head", rows).to(head.device, head.dtype)


ROWS_FILE = "vocab_embeddings.safetensors"
# Adam moves every touched coordinate by ~lr per step, and new rows seen once keep drifting on momentum:
# 2e-3 made the default model worse after 30 steps (4.01 -> 4.55 nats/char), 3e-4 better (-> 3.95).
WARMUP_LR = 3e-4


def save_new_rows(model: Any, base_size: int, folder: Path) -> Path:
    from safetensors.torch import save_file

    path = Path(folder) / ROWS_FILE
    save_file(new_rows_state(model, base_size), str(path))
    return path


def load_new_rows(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / ROWS_FILE))


def warm_up(model: Any, batches: Iterable[dict[str, torch.Tensor]], steps: int, base_size: int, device: str,
            lr: float = WARMUP_LR, on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Train only rows ``>= base_size`` of the embedding matrices for ``steps`` batches; returns the losses."""
    from core.train import _body_and_head, _forward_loss

    if steps <= 0:
        return []
    frozen = {p: p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    params = new_row_parameters(model)
    hooks = []
    for p in params:
        p.requires_grad_(True)
        # Zeroing old rows' gradients keeps AdamW from moving them (zero moments give a zero step).
        hooks.append(p.register_hook(lambda g: torch.cat([torch.zeros_like(g[:base_size]), g[base_size:]])))
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    body, head = _body_and_head(model)
    was_training = model.training
    model.train()
    losses = []
    try:
        for step, batch in zip(range(steps), batches):
            loss, _count = _forward_loss(body, head, batch, device)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            if on_step is not None:
                on_step(step + 1, losses[-1])
    finally:
        for hook in hooks:
            hook.remove()
        for p, flag in frozen.items():
            p.requires_grad_(flag)
        model.train(was_training)
    return losses
