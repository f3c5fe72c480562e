import pytest
import torch

from core.errors import ModelError
from core.models import embedded_gguf, resolve_model


def test_default_model_is_converted_once_and_reused(session_home, default_model_dir):
    weights = default_model_dir / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    from core import models

    assert models.default_model_dir(session_home) == default_model_dir
    assert weights.stat().st_mtime_ns == stamp, "a second load must not convert again"
    assert embedded_gguf().suffix == ".gguf"


def test_converted_default_model_is_the_embedded_instruct_model(default_model_dir):
    import json

    config = json.loads((default_model_dir / "config.json").read_text())
    assert config["model_type"] == "llama" and config["vocab_size"] == 49152 and config["tie_word_embeddings"]
    assert "quantization_config" not in config


@pytest.mark.parametrize(
    "name, message",
    [("some/folder/that/does/not/exist", "neither 'default'"), ("org/model", None)],
)
def test_model_names_resolve_or_explain(home, name, message):
    if message is None:
        source = resolve_model(name, home)
        assert source.is_hub and source.path == "org/model"
    else:
        with pytest.raises(ModelError, match=message):
            resolve_model(name, home)


def test_a_folder_without_config_is_not_a_model(home, tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path), home)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_qlora_trains_on_cuda_in_bfloat16(home, tiny_model_dir):
    from core.config import parse_config
    from core.train import train

    config = parse_config({"name": "gpu", "base_model": str(tiny_model_dir), "data": {"seq_len": 64},
                           "train": {"max_steps": 3, "device": "cuda"}})
    result = train(config, home)
    assert result.summary["device"] == "cuda" and result.summary["dtype"] in ("bfloat16", "float32")
