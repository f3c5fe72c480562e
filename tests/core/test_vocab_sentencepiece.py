"""Extending a SentencePiece BPE base (Llama 2 style), and byte-level bases as Qwen 2 and Llama 3 load them.

The base is a real SentencePiece model trained as Llama 2's was (``tests.sentencepiece_base``) on English
text with a few Traditional Chinese lines, so, like Llama 2, it knows some Chinese characters and reads
the rest as UTF-8 bytes.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.datafiles import SAMPLES
from core.errors import ModelError
from core.sentencepiece_extend import extended_spec
from core.tokenizer_extend import SPACE
from core.vocab import SPM_FILE, documents_from_refs, learn_vocab, load_extended
from tests.sentencepiece_base import english_lines, llama2_style_tokenizer

SAMPLE = str(SAMPLES["tc_corpus"])
N_NEW = 1400  # more than the sample's new characters, so merges are learned too
MIXED = "Bailong 白龍 mixes 中文 and English 😀!\n\t  spaces  "


@pytest.fixture(scope="module")
def spm_base(tmp_path_factory):
    """A Llama-2-style folder: tokenizer.model plus a config naming LlamaTokenizer."""
    import sentencepiece as spm

    from core.models import load_tokenizer

    folder = tmp_path_factory.mktemp("llama2-style")
    model = llama2_style_tokenizer(folder, 800, documents_from_refs([SAMPLE])[:3])
    return folder, load_tokenizer(str(folder)), spm.SentencePieceProcessor(model_proto=model)


@pytest.fixture(scope="module")
def spm_extended(spm_base, tmp_path_factory):
    import sentencepiece as spm

    _, base, _ = spm_base
    out = tmp_path_factory.mktemp("spm-vocab") / "tok"
    _, meta = learn_vocab([SAMPLE], base, out, new_tokens=N_NEW)
    extended, _ = load_extended(out, base)
    return out, extended, meta, spm.SentencePieceProcessor(model_file=str(out / SPM_FILE))


def test_base_is_what_llama2_ships(spm_base):
    folder, base, processor = spm_base
    assert type(base).__name__ == "LlamaTokenizer"
    chars = {c for c in "".join(documents_from_refs([SAMPLE])) if ord(c) > 0x2E80}
    known = {c for c in chars if c in base.get_vocab()}
    assert 0 < len(known) < len(chars) / 2  # like Llama 2: some Chinese characters, most of them as bytes
    for text in documents_from_refs([SAMPLE])[:20] + ["Hello world, this is a test."]:
        assert base(text, add_special_tokens=False)["input_ids"] == processor.encode(text)


def test_new_characters_then_merges_each_tied_to_the_byte_pieces_it_replaces(spm_base, spm_extended):
    _, base, _ = spm_base
    out, extended, meta, _ = spm_extended
    records = meta["new_tokens"]
    assert meta["tokenizer_family"] == "sentencepiece" and meta["learned_tokens"] == len(records) == N_NEW
    assert 0 < meta["new_characters"] < N_NEW  # characters first, the rest of the budget went to merges
    assert [r["id"] for r in records] == list(range(len(base), len(base) + N_NEW)) and len(extended) == len(base) + N_NEW
    chars = records[: meta["new_characters"]]
    assert all(len(r["token"]) == 1 and len(r["pieces"]) >= 2 for r in chars)
    assert all(len(r["token"]) > 1 for r in records[meta["new_characters"]:])
    for record in records:
        # Zip-tie averages the pieces the base used: decoded together they spell the token.
        assert base.decode(record["pieces"]) == base.decode(base(record["token"].replace(SPACE, " "), add_special_tokens=False)["input_ids"])
        assert record["token"] not in base.get_vocab()


def test_merged_sentencepiece_model_encodes_exactly_like_the_fast_tokenizer(spm_base, spm_extended):
    _, base, base_processor = spm_base
    out, extended, _, processor = spm_extended
    assert processor.get_piece_size() == len(extended)
    assert [processor.id_to_piece(i) for i in range(len(base))] == [base_processor.id_to_piece(i) for i in range(len(base))]
    docs = documents_from_refs([SAMPLE])
    for text in docs + [MIXED, "台北101與高雄85大樓"]:
        assert extended(text, add_special_tokens=False)["input_ids"] == processor.encode(text)
    # Text without new characters keeps the base segmentation: new pieces score below every old one.
    for text in english_lines()[:200]:
        assert extended(text, add_special_tokens=False)["input_ids"] == base(text, add_special_tokens=False)["input_ids"]
    tokens_base = sum(len(base(d, add_special_tokens=False)["input_ids"]) for d in docs)
    tokens_ext = sum(len(extended(d, add_special_tokens=False)["input_ids"]) for d in docs)
    assert tokens_ext < tokens_base / 2


def test_the_original_merges_keep_their_order(spm_base, spm_extended):
    from core.tokenizer_extend import tokenizer_json

    _, base, _ = spm_base
    out, _, _, _ = spm_extended
    before = [tuple(m) for m in tokenizer_json(base)["model"]["merges"]]
    after = [tuple(m) for m in json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))["model"]["merges"]]
    kept = iter(after)
    assert all(any(m == k for k in kept) for m in before)  # a subsequence, in the same order


def test_a_new_piece_opens_a_new_split_of_an_old_one_in_its_place():
    spec = {"model": {"type": "BPE", "byte_fallback": True, "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "x": 5},
                      "merges": [["a", "b"], ["ab", "c"]]}}
    new_spec, added = extended_spec(spec, ["bc", "xabc"], 6)
    assert added == [("bc", 6), ("xabc", 7)]
    # "abc" can now also be built as a + bc, ranked with abc; the new pieces' own merges come last.
    assert new_spec["model"]["merges"] == [["a", "b"], ["ab", "c"], ["a", "bc"], ["b", "c"], ["x", "abc"]]


NO_META = st.characters(blacklist_characters=SPACE)
TC = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF) | st.sampled_from(list("，。「」、：？ ")), max_size=60)
ANY = st.one_of(TC, st.text(alphabet=NO_META), st.lists(st.one_of(TC, st.text(max_size=8)), max_size=6).map("".join))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ANY)
def test_roundtrip_loses_nothing_the_base_kept(spm_base, spm_extended, text):
    _, base, _ = spm_base
    _, extended, _, _ = spm_extended
    decoded = extended.decode(extended(text, add_special_tokens=False)["input_ids"])
    assert decoded == base.decode(base(text, add_special_tokens=False)["input_ids"])
    # The Llama 2 convention itself drops one leading space and reads "▁" as a space; everything else is exact.
    if SPACE not in text and not text.startswith(" "):
        assert decoded == text


def test_spm_base_trains_and_reloads_to_the_same_logits(spm_base, home, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.core.test_vocab_train import assert_reload_matches, vocab_config
    from core.train import train

    folder, base, _ = spm_base
    model_dir = tmp_path / "tiny-llama2"
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=len(base), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False,
        bos_token_id=base.bos_token_id, eos_token_id=base.eos_token_id,
    )).save_pretrained(model_dir)
    for name in (SPM_FILE, "tokenizer_config.json"):
        (model_dir / name).write_bytes((folder / name).read_bytes())
    config = vocab_config(model_dir, "llama2-vocab", {"learn_from": ["sample:tc_corpus"], "new_tokens": 300, "warmup_steps": 1},
                          max_steps=2)
    result = train(config, home, keep_model=True)
    assert result.steps == 2
    adapter = result.folder / "adapter"
    import sentencepiece as spm

    merged = spm.SentencePieceProcessor(model_file=str(adapter / SPM_FILE))
    assert merged.get_piece_size() == len(base) + 300
    assert_reload_matches(result, home, len(base) + 300)

    from core.vocab_report import report_for_folder

    report = report_for_folder(result.folder / "vocab", home, inits=["ziptie", "random"])
    assert report["tokens_per_char"] < report["tokens_per_char_base"] / 1.2
    assert set(report["nats_per_char"]) == {"base", "ziptie", "random"}
    assert all(0 < v < 100 for v in report["nats_per_char"].values())


LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


@pytest.mark.parametrize("tokenizer_class", ["Qwen2Tokenizer", "PreTrainedTokenizerFast"])
def test_byte_level_classes_keep_the_extension(tmp_path, tokenizer_class):
    """Qwen 2's class rebuilds its tokenizer from vocab and merges alone; Llama 3 ships a plain fast
    tokenizer with a regex split before the byte-level step. The extension must survive both."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    from core.models import load_tokenizer

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(english_lines(), trainers.BpeTrainer(
        vocab_size=600, show_progress=False, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    base_dir = tmp_path / "byte-level"
    base_dir.mkdir()
    backend.save(str(base_dir / "tokenizer.json"))
    (base_dir / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": tokenizer_class, "eos_token": "<|endoftext|>"}))
    base = load_tokenizer(str(base_dir))
    import transformers

    loaded_as = getattr(transformers, tokenizer_class)  # PreTrainedTokenizerFast is TokenizersBackend in transformers 5
    assert type(base) is loaded_as
    out = tmp_path / "tok"
    learn_vocab([SAMPLE], base, out, new_tokens=300)
    extended, meta = load_extended(out, base)
    assert type(extended) is loaded_as and len(extended) == len(base) + len(meta["new_tokens"])
    for text in documents_from_refs([SAMPLE])[:30] + [MIXED]:
        ids = extended(text, add_special_tokens=False)["input_ids"]
        assert extended.decode(ids) == text
    doc = documents_from_refs([SAMPLE])[0]
    assert len(extended(doc)["input_ids"]) < len(base(doc)["input_ids"]) / 1.5


@pytest.mark.parametrize("kind", ["unigram", "spm-bpe-without-bytes", "wordpiece"])
def test_unsupported_tokenizer_type_is_named(kind):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from core.vocab import learn_tokens

    if kind == "unigram":
        model = models.Unigram([("<unk>", 0.0), ("▁a", -1.0), ("a", -2.0)], 0)
        expected = "cannot extend a SentencePiece Unigram tokenizer"
    elif kind == "wordpiece":
        model = models.WordPiece({"[UNK]": 0, "a": 1, "##a": 2}, unk_token="[UNK]")
        expected = "cannot extend a WordPiece .*tokenizer"
    else:
        model = models.BPE(vocab={"<unk>": 0, "▁": 1, "a": 2, "▁a": 3}, merges=[("▁", "a")], unk_token="<unk>", byte_fallback=True)
        expected = "256 of its 256 byte-fallback pieces are missing"
    backend = Tokenizer(model)
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    with pytest.raises(ModelError, match=expected):
        learn_tokens(PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>"), ["aaa"], 5)
