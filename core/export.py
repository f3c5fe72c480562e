"""Merging a trained adapter into its base model and writing a plain Hugging Face model folder.

The result loads with ``AutoModelForCausalLM.from_pretrained`` anywhere, without peft or Bailong: weights
as safetensors, the run's tokenizer (extended vocabulary included), the generation config and a model
card naming what it was built from. The base is always loaded unquantised for merging, because adding
the LoRA delta to 4-bit weights and saving them would bake the quantisation error into the result. When
the base ties its input and output embeddings and the adapter trained both, the head gets its own copy
first; otherwise both deltas would land in the one shared matrix. The folder appears only when complete.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from core.errors import OutputError
from core.model_spec import ModelSpec
from core.workspace import Workspace


def _untie_adapted_embeddings(model: Any) -> None:
    import torch

    base = model.get_base_model()
    embed, head = base.get_input_embeddings(), base.get_output_embeddings()
    if embed is None or head is None:
        return
    head_layer = getattr(head, "base_layer", head)
    embed_layer = getattr(embed, "base_layer", embed)
    adapted = hasattr(head, "base_layer") or hasattr(embed, "base_layer")
    if adapted and head_layer.weight.data_ptr() == embed_layer.weight.data_ptr():
        head_layer.weight = torch.nn.Parameter(head_layer.weight.detach().clone(), requires_grad=False)
        base.config.tie_word_embeddings = False
        if hasattr(base.config, "get_text_config"):
            base.config.get_text_config().tie_word_embeddings = False


def merged_model(spec: ModelSpec, workspace: Workspace) -> tuple[Any, Any]:
    """``(model, tokenizer)`` with the spec's adapter folded into full-precision weights."""
    from core.inference import load_model

    model, tokenizer = load_model(spec, workspace, load_in_4bit=False)
    if spec.adapter_dir:
        _untie_adapted_embeddings(model)
        model = model.merge_and_unload(adapter_names=[model.active_adapter])
    return model, tokenizer


def model_card(spec: ModelSpec) -> str:
    lineage = "\n".join(f"| {k} | {v} |" for k, v in spec.lineage.items() if v not in (None, "", []))
    return "\n".join([
        f"# {spec.name} (merged)", "",
        f"Exported by Bailong Studio: {spec.describe()}, merged into full-precision weights.", "",
        "Load it with `transformers.AutoModelForCausalLM.from_pretrained(folder)`; no peft needed.", "",
        "| | |", "|---|---|", lineage, "",
    ])


def export_merged(spec: ModelSpec, workspace: Workspace, out: str | Path) -> Path:
    """Write the merged model to ``out`` (which must not exist or be empty); returns the folder."""
    target = Path(out).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OutputError(f"--out {target} already exists and is not empty; choose a new folder")
    model, tokenizer = merged_model(spec, workspace)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        (partial / "README.md").write_text(model_card(spec), encoding="utf-8")
        (partial / "bailong.json").write_text(json.dumps({"exported_from": spec.name, "lineage": spec.lineage}, indent=1),
                                              encoding="utf-8")
        if target.exists():
            target.rmdir()
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target
