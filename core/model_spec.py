"""What a chat model is made of: a base model, optionally a trained LoRA adapter (or one of its checkpoints)
and the tokenizer that goes with it, plus where it came from.

A ``ModelSpec`` is plain data, so the catalog (which reads the job database) can build it and ``core``
(which never reads the database) can load it. ``key`` identifies what would be loaded, so two names for the
same weights share one entry in the model cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelSpec:
    name: str
    """What the user picks: ``default``, a folder, a hub id, ``job:NAME`` or ``job:NAME@step-N``."""
    base_model: str
    """The base model as a run config writes it (``default``, a folder or a hub id)."""
    adapter_dir: str | None = None
    """A finished run's ``adapter/`` folder; its parent is the run folder."""
    checkpoint: str | None = None
    """A checkpoint folder of that run (``checkpoints/step-NNNNNN``) used instead of the final adapter."""
    tokenizer_dir: str | None = None
    """Where the tokenizer lives when it is not the base model's (a run's, possibly with extended vocabulary)."""
    lineage: dict[str, Any] = field(default_factory=dict)
    """Where the model came from: kind, job id, run folder, data files, step ... (shown in the UI)."""

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (self.base_model, self.adapter_dir, self.checkpoint)

    @property
    def run_dir(self) -> str | None:
        if self.lineage.get("run_dir"):
            return str(self.lineage["run_dir"])
        if self.adapter_dir:
            from pathlib import Path

            return str(Path(self.adapter_dir).parent)
        return None

    def describe(self) -> str:
        """One line for pickers and model cards: what the weights are built from."""
        parts = [f"base {self.base_model}"]
        if self.adapter_dir:
            parts.append(f"adapter of run {self.lineage.get('run', '?')}")
        if self.checkpoint:
            parts.append(f"checkpoint step {self.lineage.get('step', '?')}")
        return ", ".join(parts)
