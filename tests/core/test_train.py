"""End-to-end training: real 4-bit bitsandbytes, real LoRA, real steps, on a tiny Llama and on the default model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.config import parse_config
from core.errors import ConfigError, DataError, OutputError
from core.reload import load_trained
from core.train import lr_at, train


def tiny_config(tiny_model_dir, **overrides):
    data = {
        "name": "tiny", "base_model": str(tiny_model_dir), "stage": "pretrain",
        "data": {"train": ["sample:tc_corpus"], "seq_len": 64},
        "lora": {"r": 4, "alpha": 8},
        "train": {"max_steps": 6, "batch_size": 2, "save_steps": 3, "lr": 1e-3},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return parse_config(data)


def test_pretraining_writes_a_complete_run_folder(home, tiny_model_dir):
    logged = []
    result = train(tiny_config(tiny_model_dir, data={"eval_fraction": 0.1}), home, on_log=logged.append)
    run = result.folder
    assert run == home.runs / "tiny"
    assert [m["step"] for m in logged] == [1, 2, 3, 4, 5, 6]
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert metrics == logged
    assert {"step", "loss", "lr", "tokens_per_s", "elapsed_s"} <= metrics[0].keys()
    assert "eval_loss" in metrics[2] and "eval_loss" in metrics[5]
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md"):
        assert (run / "adapter" / name).is_file(), name
    assert (run / "config.yaml").is_file() and (run / "README.md").read_text().startswith("# tiny")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["trainable_params"] > 0
    adapter_config = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert {"q_proj", "down_proj", "embed_tokens", "lm_head"} <= set(adapter_config["target_modules"])


def test_interrupted_then_resumed_run_matches_an_uninterrupted_one(home, tiny_model_dir):
    straight = train(tiny_config(tiny_model_dir, name="straight"), home)
    straight_losses = [m["loss"] for m in map(json.loads, (straight.folder / "metrics.jsonl").read_text().splitlines())]

    config = tiny_config(tiny_model_dir, name="resumed")
    seen = []
    first = train(config, home, on_log=seen.append, should_stop=lambda: len(seen) >= 4)
    assert first.stopped and first.steps == 4
    assert not (first.folder / "adapter").exists()
    second = train(config, home, resume=True)
    assert not second.stopped and second.steps == 6
    metrics = [json.loads(line) for line in (second.folder / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    assert metrics[-1]["elapsed_s"] >= metrics[3]["elapsed_s"]
    assert [m["loss"] for m in metrics] == pytest.approx(straight_losses, rel=1e-4)


def test_sft_trains_on_the_sample_conversations(home, tiny_model_dir):
    config = tiny_config(tiny_model_dir, name="sft", stage="sft", data={"train": ["sample:conversations"], "seq_len": 256},
                         train={"max_steps": 2})
    result = train(config, home)
    assert result.summary["chat_template"] == "model" and result.final_loss > 0


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        ({"data": {"train": ["missing.txt"]}}, DataError, "not found"),
        ({"data": {"seq_len": 4096}}, ConfigError, "data.seq_len: 4096 is above the model's limit of 256"),
        ({"base_model": "no-such-org/no-such-model"}, Exception, "offline"),
        ({"base_model": "./not here"}, Exception, "neither 'default', an existing model folder, nor a hub id"),
        ({"stage": "sft"}, DataError, "SFT needs conversations"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(home, tiny_model_dir, tmp_path, overrides, error, message):
    with pytest.raises(error, match=message) as caught:
        train(tiny_config(tiny_model_dir, **overrides), home, config_dir=tmp_path)
    assert "\n" not in str(caught.value)
    assert not (home.runs / "tiny").exists()


def test_output_folder_holding_another_run_is_refused(home, tiny_model_dir):
    train(tiny_config(tiny_model_dir, train={"max_steps": 1}), home)
    with pytest.raises(OutputError, match=r"already holds a different run \(differs in lora.r\)"):
        train(tiny_config(tiny_model_dir, train={"max_steps": 1}, lora={"r": 2}), home)
    with pytest.raises(OutputError, match="already holds this run; pass --resume"):
        train(tiny_config(tiny_model_dir, train={"max_steps": 1}), home)
    with pytest.raises(OutputError, match="nothing to resume"):
        train(tiny_config(tiny_model_dir, name="fresh"), home, resume=True)


def test_learning_rate_schedule():
    assert lr_at(0, 100, 1.0, 0.1, "cosine") == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, 0.1, "cosine") == pytest.approx(1.0)
    assert lr_at(99, 100, 1.0, 0.1, "cosine") < 0.01
    assert lr_at(55, 100, 1.0, 0.1, "linear") == pytest.approx(0.5)
    assert lr_at(80, 100, 1.0, 0.0, "constant") == 1.0


@pytest.mark.slow
def test_default_model_qlora_pretraining_lowers_loss_on_a_repeated_batch(home, tmp_path):
    corpus = tmp_path / "one.txt"
    corpus.write_text("臺灣的夜市文化豐富多元，從鹹酥雞、蚵仔煎到珍珠奶茶，每一攤都有自己的故事與熟客。\n", encoding="utf-8")
    config = parse_config({
        "name": "default-pt", "base_model": "default", "stage": "pretrain",
        "data": {"train": [str(corpus)], "seq_len": 64},
        "quant": {"bits": 4, "type": "nf4", "double_quant": True},
        "train": {"max_steps": 8, "batch_size": 1, "lr": 2e-3, "warmup_ratio": 0.0, "scheduler": "constant", "save_steps": 100},
    })
    result = train(config, home, keep_model=True)
    losses = [json.loads(line)["loss"] for line in (result.folder / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.7 * losses[0], losses

    import bitsandbytes as bnb

    quantized = [m for m in result.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 30 * 7

    # Reloading base + adapter from disk gives the trained model's logits.
    ids = torch.tensor([[1, 2683, 359, 253, 5356, 5646, 11173, 3365]])
    result.model.eval()
    with torch.no_grad():
        trained_logits = result.model(input_ids=ids).logits
    reloaded, tokenizer = load_trained(result.folder, home)
    with torch.no_grad():
        reloaded_logits = reloaded(input_ids=ids).logits
    torch.testing.assert_close(reloaded_logits, trained_logits, rtol=1e-4, atol=1e-4)
    assert tokenizer.decode(ids[0, 1:]) != ""


def test_cli_trains_and_reports_errors_in_one_line(tmp_path, tiny_model_dir, home):
    config = tmp_path / "run.yaml"
    config.write_text(f"name: cli\nbase_model: {tiny_model_dir}\ndata: {{train: [corpus.txt], seq_len: 32}}\ntrain: {{max_steps: 2}}\n")
    (tmp_path / "corpus.txt").write_text("臺北今天下雨。\n高雄今天晴天。\n" * 20, encoding="utf-8")
    cmd = [sys.executable, "-m", "core.cli", "train", str(config), "--home", str(home.root), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and Path(summary["run_dir"]).name == "cli"

    config.write_text("name: cli2\nlora: {r: 0}\n")
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: lora.r: Input should be greater than 0 (got 0)"


def test_a_half_written_checkpoint_is_never_resumed_from(tmp_path):
    from core.run_folder import RunFolder

    folder = RunFolder(tmp_path)
    for name in ("step-000002", "step-000004.partial"):
        (tmp_path / "checkpoints" / name).mkdir(parents=True)
        (tmp_path / "checkpoints" / name / "trainer_state.pt").write_bytes(b"x")
    assert folder.latest_checkpoint().name == "step-000002"
    assert folder.latest_checkpoint_step() == 2


def test_a_worker_log_alone_does_not_make_the_folder_occupied(tmp_path, tiny_model_dir):
    from core.run_folder import RunFolder

    (tmp_path / "worker.log").write_text("starting\n")
    RunFolder(tmp_path).check_can_start(tiny_config(tiny_model_dir), resume=False)
