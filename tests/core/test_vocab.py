"""Vocabulary learning and tokenizer extension on the real default tokenizer and the bundled TC sample."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.datafiles import SAMPLES
from core.errors import ConfigError, DataError, ModelError
from core.tokenizer_extend import check_extendable, token_bytes
from core.vocab import META_FILE, documents_from_refs, learn_tokens, learn_vocab, load_extended, read_meta
from core.vocab_report import efficiency, efficiency_svg

SAMPLE = str(SAMPLES["tc_corpus"])
N_NEW = 300


@pytest.fixture(scope="module")
def extended(tmp_path_factory, tokenizer):
    out = tmp_path_factory.mktemp("vocab") / "tok"
    ext, meta = learn_vocab([SAMPLE], tokenizer, out, new_tokens=N_NEW)
    return out, ext, meta


def test_learns_exactly_the_requested_tokens_after_the_base_ids(extended, tokenizer):
    out, ext, meta = extended
    base = len(tokenizer)
    learned = [r for r in meta["new_tokens"] if r["kind"] == "learned"]
    missing_bytes = [r for r in meta["new_tokens"] if r["kind"] == "byte"]
    assert len(learned) == N_NEW == meta["learned_tokens"]
    # The base drops the bytes its vocabulary lacks (e.g. U+40000 and up); the extension adds them.
    assert len(missing_bytes) == meta["byte_tokens"] == 256 - sum(1 for t in tokenizer.get_vocab() if len(t) == 1)
    assert all(len(r["token"]) == 1 and not r["pieces"] for r in missing_bytes)
    assert len(ext) == base + len(meta["new_tokens"]) == meta["vocab_size"]
    assert [r["id"] for r in meta["new_tokens"]] == list(range(base, len(ext)))
    base_vocab = tokenizer.get_vocab()
    assert not any(r["token"] in base_vocab for r in meta["new_tokens"])
    for record in learned:
        # Only strings the base tokenizer splits into several pieces become tokens ...
        assert len(record["pieces"]) >= 2
        # ... and the pieces spell the token exactly.
        assert b"".join(token_bytes(tokenizer.convert_ids_to_tokens(p)) for p in record["pieces"]) == token_bytes(record["token"])
    # The original tokens keep their ids.
    assert all(ext.convert_tokens_to_ids(t) == i for t, i in list(base_vocab.items())[:2000])


def test_extension_is_a_bpe_model_change_not_added_tokens(extended, tokenizer):
    out, ext, _ = extended
    spec = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    base_spec = check_extendable(tokenizer)
    assert len(spec["added_tokens"]) == len(base_spec["added_tokens"])
    assert spec["model"]["merges"][: len(base_spec["model"]["merges"])] == base_spec["model"]["merges"]
    assert len(spec["model"]["vocab"]) == len(ext)


def test_held_out_text_gets_fewer_tokens(extended, tokenizer):
    out, ext, meta = extended
    docs = documents_from_refs([SAMPLE])
    report = efficiency(tokenizer, ext, docs[-20:])
    assert report["tokens_per_char"] < report["tokens_per_char_base"] / 1.25
    assert meta["held_out_documents"] > 0 and (out / "held_out.txt").is_file()
    svg = efficiency_svg(report)
    assert svg.startswith("<svg") and svg.count("<circle") == 2 * report["documents"]


TC = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) | st.sampled_from(list("，。「」、：？ ")), max_size=60)
ENGLISH = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
EMOJI = st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), max_size=10)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(TC, ENGLISH, EMOJI, st.text(), st.lists(st.one_of(TC, ENGLISH, EMOJI, st.text(max_size=8)), max_size=6).map("".join)))
def test_decode_encode_roundtrip_is_lossless(extended, text):
    _, ext, _ = extended
    ids = ext(text, add_special_tokens=False)["input_ids"]
    assert ext.decode(ids) == text


def test_roundtrip_on_the_sample_and_mixed_text(extended):
    _, ext, _ = extended
    for text in documents_from_refs([SAMPLE])[:50] + ["Bailong 白龍 mixes 中文 and English 😀!\n\t  spaces  "]:
        assert ext.decode(ext(text, add_special_tokens=False)["input_ids"]) == text


def test_too_little_text_says_how_many_were_possible(tokenizer):
    docs = documents_from_refs([SAMPLE])[:5]
    with pytest.raises(DataError, match=r"supports only [\d,]+ new tokens .*asked for 20,000"):
        learn_tokens(tokenizer, docs, 20000)


@pytest.mark.parametrize("count", [0, -5])
def test_non_positive_count_is_refused(tokenizer, tmp_path, count):
    with pytest.raises(ConfigError, match="vocab.new_tokens"):
        learn_vocab([SAMPLE], tokenizer, tmp_path / "x", new_tokens=count)
    assert not (tmp_path / "x").exists()


def test_a_folder_from_another_base_is_refused(extended, tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    out, _, _ = extended
    other = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate("abc")}, merges=[]))
    other.pre_tokenizer, other.decoder = pre_tokenizers.ByteLevel(), decoders.ByteLevel()
    with pytest.raises(ModelError, match="extended from a different base tokenizer"):
        load_extended(out, PreTrainedTokenizerFast(tokenizer_object=other))
    with pytest.raises(ModelError, match="not an extended tokenizer folder"):
        read_meta(tmp_path)
    assert (out / META_FILE).is_file()


def test_cli_learns_reports_and_refuses_in_one_line(tmp_path, home, tiny_model_dir, capsys):
    import subprocess
    import sys

    from core.cli import main

    out = tmp_path / "tok"
    cmd = [sys.executable, "-m", "core.cli", "vocab", "learn", "--corpus", SAMPLE, "--new-tokens", "200", "--out", str(out),
           "--base-model", str(tiny_model_dir), "--home", str(home.root), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)  # the real entry point, once
    assert done.returncode == 0, done.stderr[-2000:]
    learned = json.loads(done.stdout)
    assert learned["learned_tokens"] == 200 and learned["tokens_per_char"] < learned["tokens_per_char_base"]

    def run(*args):
        code = main(["vocab", *args, "--home", str(home.root)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    text = tmp_path / "held.txt"
    text.write_text("臺灣的春天來得早，二月底的陽明山上，櫻花已經一簇簇地綻放。\n", encoding="utf-8")
    code, stdout, _ = run("report", "--tokenizer", str(out), "--text", str(text), "--inits", "ziptie", "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["tokens_per_char"] < report["tokens_per_char_base"]
    assert set(report["nats_per_char"]) == {"base", "ziptie"}

    for args, message in [
        (("learn", "--corpus", SAMPLE, "--new-tokens", "0", "--out", str(tmp_path / "x")), "vocab.new_tokens: must be at least 1"),
        (("learn", "--corpus", SAMPLE, "--new-tokens", "90000", "--out", str(tmp_path / "x")), "supports only"),
        (("report", "--tokenizer", str(tmp_path)), "not an extended tokenizer folder"),
        (("report", "--tokenizer", str(out), "--inits", "zipper"), "vocab.init: unknown strategy 'zipper'"),
    ]:
        code, _, stderr = run(*args)
        last = stderr.strip().splitlines()[-1]  # progress lines may come first; the error is one line
        assert code == 2 and last.startswith("error: ") and message in last and "Traceback" not in stderr
    assert not (tmp_path / "x").exists()
