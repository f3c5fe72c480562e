"""The run folder: what a training run leaves on disk, and how a resumed run finds its place.

Layout of ``<home>/runs/<name>/``::

    config.yaml        the resolved run configuration (data paths absolute)
    metrics.jsonl      one line per logged step: step, loss, lr, tokens_per_s, elapsed_s (+ eval_loss)
    checkpoints/step-000050/   adapter weights + optimizer and data position, for --resume
    adapter/           the final LoRA adapter in PEFT format, with the tokenizer and a model card
    README.md          the model card
    summary.json       what happened: steps, losses, time, peak memory

A folder that holds a different run is never reused; a resumed run must match the original config
except for how long it trains and how often it logs and saves.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import RESUMABLE_CHANGES, RunConfig, differing_fields, dump_config, load_config, save_config
from core.errors import ConfigError, OutputError

CHECKPOINTS_KEPT = 2
# Files others may put in a run folder before training writes config.yaml (the job worker's log).
COMPANION_FILES = {"worker.log"}


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"

    def _complete_checkpoints(self) -> list[Path]:
        """Finished checkpoints, oldest first; a ``.partial`` folder is one still being written."""
        return sorted(p for p in self.checkpoints.glob("step-*") if not p.name.endswith(".partial"))

    def latest_checkpoint(self) -> Path | None:
        found = [p for p in self._complete_checkpoints() if (p / "trainer_state.pt").is_file()]
        return found[-1] if found else None

    def latest_checkpoint_step(self) -> int:
        """The step a resumed run restarts from (0 when there is no checkpoint)."""
        checkpoint = self.latest_checkpoint()
        return int(checkpoint.name.removeprefix("step-")) if checkpoint is not None else 0

    def check_can_start(self, config: RunConfig, resume: bool) -> None:
        """Refuse, before anything is written, to train into a folder that holds something else."""
        occupied = self.path.exists() and any(p.name not in COMPANION_FILES for p in self.path.iterdir())
        if not occupied:
            if resume:
                raise OutputError(f"nothing to resume: {self.path} holds no run")
            return
        if not self.config_file.is_file():
            raise OutputError(f"output folder {self.path} is not empty and holds no Bailong run; choose another name or output_dir")
        try:
            previous = load_config(self.config_file)
        except ConfigError:
            raise OutputError(f"output folder {self.path} holds a run whose config.yaml cannot be read; choose another folder") from None
        changed = differing_fields(previous, config)
        if not resume:
            if changed:
                raise OutputError(
                    f"output folder {self.path} already holds a different run (differs in {', '.join(changed)}); "
                    "choose another name or output_dir"
                )
            raise OutputError(f"output folder {self.path} already holds this run; pass --resume to continue it or choose another name")
        not_resumable = [c for c in changed if tuple(c.split(".")) not in RESUMABLE_CHANGES]
        if not_resumable:
            raise OutputError(f"cannot resume {self.path} with a different config (differs in {', '.join(not_resumable)})")

    def start(self, config: RunConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        save_config(config, self.config_file)

    def append_metrics(self, record: dict[str, Any]) -> None:
        with self.metrics_file.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_file.is_file():
            return []
        return [json.loads(line) for line in self.metrics_file.read_text(encoding="utf-8").splitlines() if line.strip()]

    def truncate_metrics(self, after_step: int) -> None:
        """Drop lines past the checkpoint a resumed run restarts from, so the curve continues without repeats."""
        kept = [m for m in self.read_metrics() if m.get("step", 0) <= after_step]
        self.metrics_file.write_text("".join(json.dumps(m) + "\n" for m in kept), encoding="utf-8")

    def checkpoint_dir(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:06d}"

    def prune_checkpoints(self) -> None:
        for old in self._complete_checkpoints()[:-CHECKPOINTS_KEPT]:
            shutil.rmtree(old, ignore_errors=True)

    def write_summary(self, summary: dict[str, Any]) -> None:
        self.summary_file.write_text(json.dumps(summary, indent=2), encoding="utf-8")


def model_card(config: RunConfig, summary: dict[str, Any], data_files: list[str]) -> str:
    """A short README for the adapter: what it was trained from, on what, and how it went."""
    stage = "secondary pre-training on Traditional Chinese text" if config.stage == "pretrain" else "multi-turn SFT"
    quant = "full precision" if config.quant.bits == "none" else f"{config.quant.bits}-bit {config.quant.type if config.quant.bits == 4 else ''}".strip()
    lines = [
        f"# {config.name}",
        "",
        f"LoRA adapter trained by Bailong Studio ({stage}) on base model `{config.base_model}` loaded in {quant}.",
        "",
        "| | |",
        "|---|---|",
        f"| steps | {summary.get('steps')} |",
        f"| final loss | {summary.get('final_loss')} |",
        f"| trained tokens | {summary.get('tokens')} |",
        f"| LoRA | r={config.lora.r}, alpha={config.lora.alpha}, targets={config.lora.targets}, embeddings={config.lora.embeddings} |",
        f"| sequence length | {config.data.seq_len} (packing {'on' if config.data.packing else 'off'}) |",
        *([f"| vocabulary | extended ({', '.join(config.vocab.learn_from) or config.vocab.tokenizer}); init {config.vocab.init}, "
           f"{config.vocab.warmup_steps} warm-up steps; new rows in adapter/vocab_embeddings.safetensors |"] if config.vocab.enabled else []),
        f"| training time | {summary.get('elapsed_s')} s on {summary.get('device')} |",
        "",
        "Data: " + ", ".join(f"`{d}`" for d in data_files),
        "",
        "Load it with `core.reload.load_trained(run_folder)`, or with peft on top of the base model.",
        "",
        "## Configuration",
        "",
        "```yaml",
        dump_config(config).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)
