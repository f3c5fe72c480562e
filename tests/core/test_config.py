from pathlib import Path

import pytest
import yaml

from core.cli import PRESETS
from core.config import RunConfig, differing_fields, dump_config, load_config, parse_config
from core.errors import ConfigError


def test_yaml_round_trip_is_identity(tmp_path):
    config = parse_config({"name": "rt", "stage": "sft", "lora": {"targets": ["q_proj", "v_proj"], "r": 4},
                           "quant": {"bits": "none"}, "train": {"max_steps": None, "epochs": 1.5, "grad_checkpointing": True}})
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config


def test_public_contract_example_parses():
    text = """
name: demo
base_model: default
stage: pretrain
data: {train: [corpus.txt], format: auto, eval_fraction: 0.0, seq_len: 512, packing: true}
quant: {bits: 4, type: nf4, double_quant: true, compute_dtype: auto}
lora: {r: 8, alpha: 16, dropout: 0.05, targets: all-linear, embeddings: true}
train: {max_steps: 100, epochs: null, lr: 2.0e-4, scheduler: cosine, warmup_ratio: 0.03,
        batch_size: 2, grad_accum: 1, grad_checkpointing: false, seed: 42, save_steps: 50, logging_steps: 1}
output_dir: null
"""
    config = parse_config(yaml.safe_load(text))
    assert config.train.grad_checkpointing is False and config.quant.bits == 4


@pytest.mark.parametrize("preset", sorted(PRESETS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_presets_are_valid(preset: Path):
    assert isinstance(load_config(preset), RunConfig)


@pytest.mark.parametrize(
    "data, field, allowed",
    [
        ({"stage": "dpo"}, "stage", "'pretrain' or 'sft'"),
        ({"lora": {"r": 0}}, "lora.r", "greater than 0"),
        ({"lora": {"r": -3}}, "lora.r", "greater than 0"),
        ({"quant": {"bits": 3}}, "quant.bits", "4, 8 or 'none'"),
        ({"train": {"scheduler": "step"}}, "train.scheduler", "'cosine', 'linear' or 'constant'"),
        ({"data": {"seq_len": 4}}, "data.seq_len", "greater than or equal to 16"),
        ({"train": {"warmup_ratio": 1.5}}, "train.warmup_ratio", "less than 1"),
        ({"name": "no spaces please"}, "name", "pattern"),
        ({"train": {"max_steps": None, "epochs": None}}, "train", "set max_steps or epochs"),
        ({"data": {"train": []}}, "data.train", "at least 1"),
        ({"lora": {"rank": 8}}, "lora.rank", "allowed here: r, alpha"),
    ],
)
def test_each_bad_value_gets_a_line_naming_field_and_allowed_values(data, field, allowed):
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{field}:"), message
    assert allowed in message


def test_all_bad_fields_are_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        parse_config({"stage": "x", "lora": {"r": 0}, "train": {"lr": -1}})
    assert [part.split(":")[0] for part in str(caught.value).split("; ")] == ["stage", "lora.r", "train.lr"]


def test_bits_none_variants_mean_full_precision():
    for value in ("none", None, "None"):
        assert parse_config({"quant": {"bits": value}}).quant.bits == "none"


def test_differing_fields_names_dotted_paths():
    a, b = RunConfig(), RunConfig().model_copy(update={"lora": RunConfig().lora.model_copy(update={"r": 16})})
    assert differing_fields(a, b) == ["lora.r"]


def test_missing_and_unparsable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
