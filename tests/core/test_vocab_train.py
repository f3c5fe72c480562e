"""Training and reloading with an extended vocabulary: the adapter folder alone rebuilds the trained model."""

from __future__ import annotations

import json

import pytest
import torch

from core.config import parse_config
from core.errors import ModelError
from core.reload import load_trained
from core.train import train
from core.vocab import META_FILE
from core.ziptie import ROWS_FILE

TEXT = "臺灣的夜市文化豐富多元，從鹹酥雞、蚵仔煎到珍珠奶茶，每一攤都有自己的故事與熟客。"


def vocab_config(base_model, name, vocab, data="sample:tc_corpus", **train):
    return parse_config({
        "name": name, "base_model": str(base_model), "stage": "pretrain",
        "data": {"train": [data], "seq_len": 64},
        "vocab": vocab,
        "lora": {"r": 4, "alpha": 8},
        "train": {"max_steps": 3, "batch_size": 2, "save_steps": 100, "lr": 1e-3, **train},
    })


def assert_reload_matches(result, home, tokenizer_size):
    reloaded, tokenizer = load_trained(result.folder, home)
    assert len(tokenizer) == tokenizer_size
    ids = torch.tensor([tokenizer(TEXT, add_special_tokens=False)["input_ids"]])
    assert int(ids.max()) >= tokenizer_size - 400  # the text uses new tokens
    result.model.eval()
    with torch.no_grad():
        trained_logits = result.model(input_ids=ids).logits
        reloaded_logits = reloaded(input_ids=ids).logits
    torch.testing.assert_close(reloaded_logits, trained_logits, rtol=1e-4, atol=1e-4)


def test_tiny_run_with_learned_vocab_resumes_and_reloads_to_the_same_logits(home, tiny_model_dir, tokenizer):
    config = vocab_config(tiny_model_dir, "vocab-tiny", {"learn_from": ["sample:tc_corpus"], "new_tokens": 200, "warmup_steps": 2})
    logged = []
    first = train(config, home, on_log=logged.append, should_stop=lambda: len(logged) >= 2)
    assert first.stopped and first.steps == 2
    rows = (first.folder / "vocab" / ROWS_FILE).read_bytes()
    # The resumed run reuses the saved tokenizer and rows instead of learning and warming up again.
    result = train(config, home, resume=True, keep_model=True)
    assert result.steps == 3 and (result.folder / "vocab" / ROWS_FILE).read_bytes() == rows
    adapter = result.folder / "adapter"
    meta = json.loads((adapter / META_FILE).read_text(encoding="utf-8"))
    size = len(tokenizer) + len(meta["new_tokens"])
    assert meta["learned_tokens"] == 200 and (adapter / ROWS_FILE).is_file()
    assert (result.folder / "vocab" / ROWS_FILE).is_file()
    assert_reload_matches(result, home, size)


def test_tokenizer_folder_from_another_base_is_refused_before_writing(home, tiny_model_dir, tokenizer, tmp_path):
    from core.vocab import learn_vocab

    folder = tmp_path / "tok"
    learn_vocab(["sample:tc_corpus"], tokenizer, folder, new_tokens=50)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    meta["base_fingerprint"] = "0" * 16  # as if learned on another model's tokenizer
    (folder / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    config = vocab_config(tiny_model_dir, "mismatch", {"tokenizer": str(folder)})
    with pytest.raises(ModelError, match="extended from a different base tokenizer"):
        train(config, home)
    assert not (home.runs / "mismatch").exists()


@pytest.mark.slow
def test_default_model_with_500_new_tokens_trains_and_reloads(home, tokenizer, tmp_path):
    from core.vocab import learn_vocab

    folder = tmp_path / "tok"
    learn_vocab(["sample:tc_corpus"], tokenizer, folder, new_tokens=500)
    corpus = tmp_path / "one.txt"
    corpus.write_text((TEXT + "\n") * 4, encoding="utf-8")
    config = vocab_config("default", "vocab-default", {"tokenizer": str(folder)}, str(corpus), max_steps=2, batch_size=1)
    result = train(config, home, keep_model=True)
    assert result.steps == 2
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    assert_reload_matches(result, home, len(tokenizer) + len(meta["new_tokens"]))


def test_a_checkpoint_of_an_extended_vocab_run_loads_to_its_own_logits(home, tiny_model_dir):
    from core.inference import load_model
    from core.model_spec import ModelSpec
    from core.run_folder import RunFolder

    config = vocab_config(tiny_model_dir, "vocab-ckpt", {"learn_from": ["sample:tc_corpus"], "new_tokens": 200})
    logged = []
    first = train(config, home, on_log=logged.append, should_stop=lambda: len(logged) >= 1, keep_model=True)
    assert first.stopped and first.steps == 1
    final = train(config, home, resume=True, keep_model=True)
    assert final.steps == 3
    spec = ModelSpec(name="job:vocab-ckpt@step-1", base_model=str(tiny_model_dir), adapter_dir=str(final.folder / "adapter"),
                     checkpoint=str(RunFolder(final.folder).checkpoint_dir(1)), tokenizer_dir=str(final.folder / "adapter"))
    model, tokenizer = load_model(spec, home, load_in_4bit=config.quant.bits == 4)
    ids = torch.tensor([tokenizer(TEXT, add_special_tokens=False)["input_ids"]])
    assert int(ids.max()) >= len(tokenizer) - 400  # the text uses new tokens
    first.model.eval()
    final.model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids).logits
        torch.testing.assert_close(logits, first.model(input_ids=ids).logits, rtol=1e-4, atol=1e-4)
        assert not torch.allclose(logits, final.model(input_ids=ids).logits, atol=1e-4)  # not the final adapter
