"""Embedding initialisation strategies as one matrix (every strategy × tied/untied head × tie_embeddings),
the warm-up that trains only new rows, and the loss report, on the tiny Llama."""

from __future__ import annotations

import typing

import pytest
import torch

from core.config import VocabConfig
from core.datafiles import SAMPLES
from core.ziptie import INIT_STRATEGIES, is_tied, resize_and_init, warm_up

SAMPLE = str(SAMPLES["tc_corpus"])


@pytest.fixture(scope="module")
def learned(tokenizer):
    from core.vocab import learn_extension

    extended, meta, held = learn_extension([SAMPLE], tokenizer, new_tokens=80)
    return extended, meta


def tiny_model(tiny_model_dir, tied: bool):
    from transformers import AutoConfig, AutoModelForCausalLM

    if tied:
        return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    config = AutoConfig.from_pretrained(tiny_model_dir)
    config.tie_word_embeddings = False
    torch.manual_seed(1)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def test_config_choices_are_the_registered_strategies():
    assert list(typing.get_args(VocabConfig.model_fields["init"].annotation)) == list(INIT_STRATEGIES)


@pytest.mark.parametrize("tie_embeddings", [False, True])
@pytest.mark.parametrize("tied", [True, False], ids=["tied-head", "untied-head"])
@pytest.mark.parametrize("init", list(INIT_STRATEGIES))
def test_strategy_matrix(tiny_model_dir, learned, init, tied, tie_embeddings):
    extended, meta = learned
    records, base = meta["new_tokens"], meta["base_vocab_size"]
    model = tiny_model(tiny_model_dir, tied)
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    resize_and_init(model, records, base, init, tie_embeddings)

    new_in = model.get_input_embeddings().weight.detach()
    new_out = model.get_output_embeddings().weight.detach()
    assert new_in.shape[0] == new_out.shape[0] == len(extended)
    assert is_tied(model) == tied
    torch.testing.assert_close(new_in[:base], old_in)  # the original rows are untouched
    torch.testing.assert_close(new_out[:base], old_out)
    rows_in, rows_out = new_in[base:], new_out[base:]

    if init == "ziptie":
        for record, row_in, row_out in zip(records, rows_in, rows_out):
            pieces = record["pieces"]
            expected_in = old_in[pieces].mean(0) if pieces else old_in.mean(0)
            torch.testing.assert_close(row_in, expected_in)
            if not tied and not tie_embeddings:
                # Untied head rule: the new token scores where its first piece was predicted.
                torch.testing.assert_close(row_out, old_out[pieces[0]] if pieces else old_out.mean(0))
    elif init == "mean":
        torch.testing.assert_close(rows_in, old_in.mean(0).expand_as(rows_in))
        if not tied and not tie_embeddings:
            torch.testing.assert_close(rows_out, old_out.mean(0).expand_as(rows_out))
    else:
        std = model.config.initializer_range
        assert 0.7 * std < rows_in.std().item() < 1.3 * std and abs(rows_in.mean().item()) < std / 5
        if not tied and not tie_embeddings:
            assert not torch.equal(rows_in, rows_out)
    if tied or tie_embeddings:
        torch.testing.assert_close(rows_out, rows_in)


@pytest.mark.parametrize("tied", [True, False], ids=["tied-head", "untied-head"])
def test_warm_up_trains_only_the_new_rows(tiny_model_dir, learned, tied):
    from core.vocab_report import warmup_sequences
    from core.packing import batches

    extended, meta = learned
    base = meta["base_vocab_size"]
    model = resize_and_init(tiny_model(tiny_model_dir, tied), meta["new_tokens"], base, "ziptie")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    train_set = warmup_sequences(extended, [SAMPLES["tc_corpus"].read_text(encoding="utf-8")[:3000]], seq_len=64)
    batch = next(batches(train_set, 2, 0, 0, extended.pad_token_id))
    losses = warm_up(model, (batch for _ in range(12)), 12, base, "cpu", lr=1e-2)
    assert len(losses) == 12 and losses[-1] < losses[0]
    for name, p in model.named_parameters():
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            torch.testing.assert_close(p[:base], before[name][:base])
            assert not torch.equal(p[base:], before[name][base:])
        else:
            torch.testing.assert_close(p, before[name])


def test_report_measures_every_init_in_nats_per_char(tmp_path, tiny_model_dir, tokenizer, home):
    from core.vocab import learn_vocab
    from core.vocab_report import read_report, report_for_folder

    out = tmp_path / "tok"
    learn_vocab([SAMPLE], tokenizer, out, new_tokens=80, base_model=str(tiny_model_dir))
    report = report_for_folder(out, home, inits=["ziptie", "random"], warmup_steps=1, eval_chars=400)
    nats = report["nats_per_char"]
    assert set(nats) == {"base", "ziptie", "random", "ziptie+warmup", "random+warmup"}
    assert all(0 < v < 50 for v in nats.values())
    assert report["tokens_per_char"] < report["tokens_per_char_base"]
    assert read_report(out)["nats_per_char"] == nats
