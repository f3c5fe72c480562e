"""A Llama-2-style tokenizer made offline, for the tests and the vocabulary benchmark.

A real SentencePiece model trained here the way Llama 2's was (BPE, byte fallback, identity
normalisation, a dummy prefix, digits split) on English text from the standard library's docstrings,
saved as Llama 2 ships: ``tokenizer.model`` plus a config naming ``LlamaTokenizer``.
"""

from __future__ import annotations

import inspect
import io
import json
from pathlib import Path


def english_lines() -> list[str]:
    import argparse
    import collections
    import json as json_module
    import pathlib
    import typing
    import unittest

    lines = []
    for module in (argparse, collections, json_module, pathlib, typing, unittest, inspect):
        for obj in vars(module).values():
            doc = inspect.getdoc(obj) if callable(obj) or inspect.ismodule(obj) else None
            if doc and len(doc) > 40:
                lines.extend(line.strip() for line in doc.splitlines() if line.strip())
    return lines


def llama2_style_tokenizer(folder: Path, vocab_size: int, extra_lines: list[str] = ()) -> bytes:
    """Write the tokenizer folder; returns the SentencePiece model."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(english_lines() + list(extra_lines)), model_writer=model, model_type="bpe",
        vocab_size=vocab_size, byte_fallback=True, character_coverage=1.0, normalization_rule_name="identity",
        add_dummy_prefix=True, remove_extra_whitespaces=False, split_digits=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}))
    return model.getvalue()
