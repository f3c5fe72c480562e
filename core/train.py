"""The training recipe, top to bottom: prepare → load → fit → save.

One function, ``train``, runs both Bailong stages (secondary pre-training and multi-turn SFT) for the
CLI, the job workers and the tests. Everything that can be refused (config, data, model, output folder)
is checked before the run folder is written. Progress reaches callers through ``on_log`` (one call per
logged step) and cancellation through ``should_stop``; either way a checkpoint is saved so ``resume``
continues the step count and the loss curve.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from core import allocator, memory, swiglu, vocab_run
from core.config import RunConfig
from core.datafiles import absolute_data_refs, load_training_examples
from core.errors import ConfigError, OutOfMemory
from core.lora import attach_lora, count_parameters
from core.loss import causal_lm_loss
from core.models import (
    load_base_model, load_model_config, load_tokenizer, max_positions, pick_compute_dtype, pick_device,
    quantization_config, resolve_model,
)
from core.chat_templates import apply_template_choice
from core.packing import Sequences, batches, batches_per_epoch, build_sequences, split_eval
from core.run_folder import RunFolder, model_card
from core.workspace import Workspace


@dataclass
class Prepared:
    """Everything known before the model loads: the refusals have all happened by now."""

    config: RunConfig
    folder: RunFolder
    source: Any
    tokenizer: Any
    train_set: Sequences
    eval_set: Sequences
    total_steps: int
    data_files: list[str]
    template: str | None
    vocab: Any = None  # core.vocab_run.RunVocab when the run extends the vocabulary


@dataclass
class TrainResult:
    folder: Path
    steps: int
    final_loss: float | None
    stopped: bool
    summary: dict[str, Any] = field(default_factory=dict)
    model: Any = None  # the trained model, only when train(..., keep_model=True)


def prepare(config: RunConfig, workspace: Workspace, *, config_dir: Path | None = None, resume: bool = False) -> Prepared:
    config = absolute_data_refs(config, config_dir)
    if config.vocab.enabled:
        config = vocab_run.absolute_vocab_refs(config, config_dir)
    folder = RunFolder(workspace.run_dir(config))
    folder.check_can_start(config, resume)
    examples, paths = load_training_examples(config.data.train, config.data.format, None, workspace)

    source = resolve_model(config.base_model, workspace)
    model_config = load_model_config(source, workspace, config.trust_remote_code)
    limit = max_positions(model_config)
    if limit and config.data.seq_len > limit:
        raise ConfigError(f"data.seq_len: {config.data.seq_len} is above the model's limit of {limit} positions")

    tokenizer = load_tokenizer(source, workspace, config.trust_remote_code)
    vocab = None
    if config.vocab.enabled:
        tokenizer, vocab = vocab_run.extension_for_run(config, tokenizer, workspace, folder.path, resume)
    template = apply_template_choice(tokenizer, config.data.template) if config.stage == "sft" else None
    sequences = build_sequences(config.stage, examples, tokenizer, config.data.seq_len, config.data.packing)
    train_set, eval_set = split_eval(sequences, config.data.eval_fraction, config.train.seed)
    per_epoch = max(1, batches_per_epoch(len(train_set), config.train.batch_size) // config.train.grad_accum)
    total = config.train.max_steps or max(1, math.ceil(config.train.epochs * per_epoch))
    return Prepared(config, folder, source, tokenizer, train_set, eval_set, total, [str(p) for p in paths], template, vocab)


def lr_at(step: int, total: int, peak: float, warmup_ratio: float, scheduler: str) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warm-up, then the chosen decay."""
    warmup = math.ceil(total * warmup_ratio)
    if step < warmup:
        return peak * (step + 1) / warmup
    if scheduler == "constant":
        return peak
    progress = (step - warmup) / max(1, total - warmup)
    if scheduler == "linear":
        return peak * max(0.0, 1.0 - progress)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def build_model(prepared: Prepared, workspace: Workspace, device: str, dtype: torch.dtype):
    config = prepared.config
    quant = quantization_config(config.quant.bits, config.quant.type, config.quant.double_quant, dtype)
    if quant is not None and device == "cpu" and config.quant.bits == 8:
        raise ConfigError("quant.bits: 8-bit training is not supported on CPU; use 4 or 'none'")
    model = load_base_model(
        prepared.source, workspace, device=device, compute_dtype=dtype, quant=quant,
        trust_remote_code=config.trust_remote_code,
    )
    model.config.use_cache = False
    if prepared.vocab is not None:
        warmup_batches = (b for epoch in range(10**9) for b in batches(
            prepared.train_set, config.train.batch_size, epoch, config.train.seed, prepared.tokenizer.pad_token_id))
        vocab_run.extend_model(model, config, prepared.vocab, warmup_batches, device)
    model = attach_lora(model, config.lora, quantized=quant is not None)
    swiglu.install(model)
    if prepared.train_set.segments is not None:
        from core import packed_attention

        packed_attention.install(model.get_base_model() if hasattr(model, "get_base_model") else model)
    memory.release_free_memory()
    return model


def _body_and_head(model: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(causal, causal.base_model_prefix), causal.get_output_embeddings()


def _forward_loss(body, head, batch: dict[str, torch.Tensor], device: str) -> tuple[torch.Tensor, int]:
    ids = batch["input_ids"].to(device)
    if "position_ids" in batch:
        # Isolated packs: restarting positions alone make attention block-diagonal (the padding tail is its
        # own block), and a mask given beside them would switch that detection off.
        hidden = body(input_ids=ids, position_ids=batch["position_ids"].to(device), use_cache=False).last_hidden_state
        return causal_lm_loss(hidden, batch["labels"].to(device), head)
    mask = batch["attention_mask"]
    # An all-ones mask is the same as none, and none lets attention take its fused causal path.
    attention_mask = None if bool(mask.all()) else mask.to(device)
    hidden = body(input_ids=ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
    return causal_lm_loss(hidden, batch["labels"].to(device), head)


def plan_checkpointing(prepared: Prepared, body, device: str, dtype: torch.dtype) -> int:
    """How many decoder layers to checkpoint under the run's setting; returns the count."""
    layers = memory.decoder_layers(body)
    setting = prepared.config.train.grad_checkpointing
    if setting is True:
        count = len(layers)
    elif setting is False or not layers:
        count = 0
    else:
        width = max(len(r) for r in prepared.train_set.input_ids)
        shape = (prepared.config.train.batch_size, width, body.config.hidden_size)
        probe = torch.zeros(shape, device=device, dtype=dtype)
        positions = torch.arange(width, device=device)[None].expand(shape[0], -1)
        rotary = getattr(body, "rotary_emb", None)
        kwargs: dict[str, Any] = {"attention_mask": None, "position_ids": positions}
        if rotary is not None:
            kwargs["position_embeddings"] = rotary(probe, positions)
        try:
            per_layer = memory.saved_bytes_per_layer(layers[0], probe, **kwargs)
        except (TypeError, RuntimeError):
            per_layer = None  # an architecture whose layer needs more than we can fake: be safe
        budget = int(prepared.config.train.activation_budget_gb * 2**30)
        input_bytes = probe.numel() * probe.element_size()
        count = len(layers) if per_layer is None else memory.layers_to_checkpoint(len(layers), per_layer, input_bytes, budget)
    memory.enable_checkpointing(layers, count)
    return count


def _save_checkpoint(model, optimizer, folder: RunFolder, step: int, micro_batches: int) -> None:
    target = folder.checkpoint_dir(step)
    partial = target.with_name(target.name + ".partial")
    model.save_pretrained(partial, save_embedding_layers=False)
    torch.save(
        {"optimizer": optimizer.state_dict(), "step": step, "micro_batches": micro_batches, "torch_rng": torch.get_rng_state()},
        partial / "trainer_state.pt",
    )
    if target.exists():
        import shutil

        shutil.rmtree(target)
    partial.rename(target)
    folder.prune_checkpoints()


def _load_checkpoint(model, optimizer, checkpoint: Path) -> tuple[int, int]:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
    state = torch.load(checkpoint / "trainer_state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return state["step"], state["micro_batches"]


@torch.no_grad()
def evaluate(body, head, eval_set: Sequences, batch_size: int, pad_id: int, device: str) -> float | None:
    if not len(eval_set):
        return None
    total, count = 0.0, 0
    for batch in batches(eval_set, batch_size, epoch=0, seed=0, pad_id=pad_id):
        loss, n = _forward_loss(body, head, batch, device)
        total += float(loss) * n
        count += n
    return total / max(1, count)


def train(
    config: RunConfig,
    workspace: Workspace,
    *,
    config_dir: Path | None = None,
    resume: bool = False,
    on_log: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    keep_model: bool = False,
) -> TrainResult:
    prepared = prepare(config, workspace, config_dir=config_dir, resume=resume)
    config = prepared.config
    device = pick_device(config.train.device)
    dtype = pick_compute_dtype(config.quant.compute_dtype, device)
    _seed_everything(config.train.seed)
    try:
        result, model = _fit(prepared, workspace, device, dtype, resume, on_log, should_stop)
        if keep_model:
            result.model = model
        return result
    except torch.OutOfMemoryError as error:
        raise OutOfMemory(f"out of memory on {device}: lower train.batch_size or data.seq_len, or set train.grad_checkpointing: true") from error
    except MemoryError as error:
        raise OutOfMemory("out of host memory: lower train.batch_size or data.seq_len, or set train.grad_checkpointing: true") from error


def _fit(prepared: Prepared, workspace: Workspace, device: str, dtype, resume: bool, on_log, should_stop):
    config, folder = prepared.config, prepared.folder
    model = build_model(prepared, workspace, device, dtype)
    body, head = _body_and_head(model)
    model.train()
    checkpointed = plan_checkpointing(prepared, body, device, dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.train.lr, weight_decay=config.train.weight_decay)

    step, micro = 0, 0
    checkpoint = folder.latest_checkpoint() if resume else None
    folder.start(config)
    if prepared.vocab is not None:
        vocab_run.save_run_vocab(folder.path, prepared.tokenizer, prepared.vocab)
    if checkpoint is not None:
        step, micro = _load_checkpoint(model, optimizer, checkpoint)
    folder.truncate_metrics(step)

    pad_id = prepared.tokenizer.pad_token_id
    per_epoch = batches_per_epoch(len(prepared.train_set), config.train.batch_size)
    trainable, total_params = count_parameters(model)
    started = time.perf_counter()
    elapsed_before = _previous_elapsed(folder)
    total_tokens = 0
    last_loss = None
    stopped = False

    def stream():
        nonlocal micro
        while True:
            epoch, index = divmod(micro, per_epoch)
            for i, batch in enumerate(batches(prepared.train_set, config.train.batch_size, epoch, config.train.seed, pad_id)):
                if i < index:
                    continue
                micro += 1
                yield batch

    batch_iter = stream()
    while step < prepared.total_steps:
        if should_stop is not None and should_stop():
            stopped = True
            break
        step_started = time.perf_counter()
        lr = lr_at(step, prepared.total_steps, config.train.lr, config.train.warmup_ratio, config.train.scheduler)
        for group in optimizer.param_groups:
            group["lr"] = lr
        losses, tokens = [], 0
        for _ in range(config.train.grad_accum):
            batch = next(batch_iter)
            loss, _count = _forward_loss(body, head, batch, device)
            (loss / config.train.grad_accum).backward()
            losses.append(loss.detach().item())
            tokens += int(batch["attention_mask"].sum())
        if config.train.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, config.train.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        total_tokens += tokens
        last_loss = sum(losses) / len(losses)
        if not math.isfinite(last_loss):
            raise ConfigError(f"training diverged at step {step} (loss {last_loss}); lower train.lr")
        now = time.perf_counter()
        if step % config.train.logging_steps == 0 or step == prepared.total_steps:
            record = {
                "step": step, "loss": round(last_loss, 6), "lr": lr,
                "tokens_per_s": round(tokens / max(now - step_started, 1e-9), 2),
                "elapsed_s": round(elapsed_before + now - started, 3), "total_steps": prepared.total_steps,
            }
            if len(prepared.eval_set) and (step % config.train.save_steps == 0 or step == prepared.total_steps):
                model.eval()
                record["eval_loss"] = round(evaluate(body, head, prepared.eval_set, config.train.batch_size, pad_id, device), 6)
                model.train()
            folder.append_metrics(record)
            if on_log is not None:
                on_log(record)
        if step % config.train.save_steps == 0 and step < prepared.total_steps:
            _save_checkpoint(model, optimizer, folder, step, micro)

    elapsed = elapsed_before + time.perf_counter() - started
    if stopped:
        _save_checkpoint(model, optimizer, folder, step, micro)
    summary = {
        "name": config.name, "stage": config.stage, "base_model": config.base_model, "device": device,
        "dtype": str(dtype).removeprefix("torch."), "steps": step, "total_steps": prepared.total_steps,
        "final_loss": None if last_loss is None else round(last_loss, 6), "tokens": total_tokens,
        "elapsed_s": round(elapsed, 2), "trainable_params": trainable, "total_params": total_params,
        "checkpointed_layers": checkpointed, "chat_template": prepared.template, "stopped": stopped,
        "peak_rss_gib": round(memory.peak_rss_bytes() / 2**30, 3), "allocator": allocator.active_allocator(),
        "data_files": prepared.data_files,
    }
    if not stopped:
        _save_final(model, prepared, summary)
    folder.write_summary(summary)
    return TrainResult(folder.path, step, summary["final_loss"], stopped, summary), model


def _previous_elapsed(folder: RunFolder) -> float:
    metrics = folder.read_metrics()
    return float(metrics[-1]["elapsed_s"]) if metrics else 0.0


def _save_final(model, prepared: Prepared, summary: dict[str, Any]) -> None:
    folder = prepared.folder
    target = folder.adapter
    model.save_pretrained(target, save_embedding_layers=False)
    prepared.tokenizer.save_pretrained(target)
    if prepared.vocab is not None:
        vocab_run.copy_to_adapter(folder.path, target)
    card = model_card(prepared.config, summary, prepared.data_files)
    (target / "README.md").write_text(card, encoding="utf-8")
    (folder.path / "README.md").write_text(card, encoding="utf-8")
    (target / "bailong.json").write_text(json.dumps({"run": prepared.config.name, "base_model": prepared.config.base_model}), encoding="utf-8")
