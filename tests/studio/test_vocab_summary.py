"""The Vocabulary tab's summary names what each kind of base gained."""

from __future__ import annotations

from core.datafiles import SAMPLES
from core.models import load_tokenizer
from core.vocab import learn_vocab
from studio.vocab_tab import report_markdown
from tests.sentencepiece_base import llama2_style_tokenizer


def test_summary_counts_new_characters_for_a_sentencepiece_base_and_bytes_for_a_byte_level_one(tmp_path, tokenizer):
    llama2_style_tokenizer(tmp_path / "base", 600)
    learn_vocab([str(SAMPLES["tc_corpus"])], load_tokenizer(str(tmp_path / "base")), tmp_path / "spm", new_tokens=50)
    summary = report_markdown(tmp_path / "spm")
    assert "**50** learned (50 of them characters the SentencePiece base read as bytes)" in summary
    learn_vocab([str(SAMPLES["tc_corpus"])], tokenizer, tmp_path / "bytes", new_tokens=50)
    assert "**50** learned (+21 bytes the base lacked)" in report_markdown(tmp_path / "bytes")
