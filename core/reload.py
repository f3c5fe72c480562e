"""Loading a finished run for inference: base model + LoRA adapter + the run's tokenizer.

The base is loaded the way it was trained (same quantisation, unless the caller asks otherwise), so the
reloaded model computes what the trained one did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.config import load_config
from core.errors import ModelError
from core.models import load_base_model, load_tokenizer, pick_compute_dtype, pick_device, quantization_config, resolve_model
from core.run_folder import RunFolder
from core.workspace import Workspace


def load_trained(run_dir: str | Path, workspace: Workspace, *, device: str = "auto", bits: Any = "as-trained") -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a finished run folder, in eval mode."""
    from peft import PeftModel

    from core.vocab_run import apply_adapter_vocab

    folder = RunFolder(Path(run_dir))
    if not folder.config_file.is_file():
        raise ModelError(f"{run_dir} is not a Bailong run folder (no config.yaml)")
    if not (folder.adapter / "adapter_config.json").is_file():
        raise ModelError(f"run {folder.path.name} has no final adapter yet (unfinished or its output was deleted)")
    config = load_config(folder.config_file)
    device = pick_device(device if device != "auto" else config.train.device)
    dtype = pick_compute_dtype(config.quant.compute_dtype, device)
    bits = config.quant.bits if bits == "as-trained" else bits
    quant = quantization_config(bits, config.quant.type, config.quant.double_quant, dtype)
    source = resolve_model(config.base_model, workspace)
    base = load_base_model(source, workspace, device=device, compute_dtype=dtype, quant=quant, trust_remote_code=config.trust_remote_code)
    apply_adapter_vocab(base, folder.adapter)  # an extended vocabulary: grow the embeddings first
    model = PeftModel.from_pretrained(base, str(folder.adapter))
    model.eval()
    tokenizer = load_tokenizer(str(folder.adapter))
    return model, tokenizer
