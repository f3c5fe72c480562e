"""Shared fixtures: one workspace per test session holding the converted default model, and a tiny
Llama (same tokenizer, two small layers) for tests where behaviour, not quality, is under test."""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore", module="bitsandbytes")

import pytest  # noqa: E402

from core.workspace import Workspace, resolve_home  # noqa: E402


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Workspace:
    return resolve_home(tmp_path_factory.mktemp("bailong-home"))


@pytest.fixture(scope="session")
def default_model_dir(session_home):
    from core.models import default_model_dir

    return default_model_dir(session_home)


@pytest.fixture(scope="session")
def tokenizer(default_model_dir):
    from core.models import load_tokenizer

    return load_tokenizer(str(default_model_dir))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, default_model_dir, tokenizer):
    """A two-layer Llama with the default model's tokenizer: real code paths at a fraction of the cost."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def home(tmp_path, session_home) -> Workspace:
    """A fresh workspace per test that reuses the session's converted default model."""
    workspace = resolve_home(tmp_path / "home")
    workspace.models.rmdir()
    workspace.models.symlink_to(session_home.models, target_is_directory=True)
    return workspace
