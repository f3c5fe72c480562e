"""Learning Traditional Chinese tokens from the user's text and saving the extended tokenizer.

Learning continues the base tokenizer's own BPE instead of training a new one beside it: every document
is pre-tokenised and segmented by the base tokenizer, each distinct base piece becomes one symbol, and
the ``tokenizers`` BPE trainer (Rust, so a megabyte takes seconds) learns merges over those symbols.
Each learned merge therefore joins two strings the base tokenizer can already produce, and appending the
merges to the base model (``core.tokenizer_extend``) reproduces the learned segmentation. Only strings
the base splits into two or more pieces can come out of this, which is exactly the rule for a new token.
A SentencePiece base (Llama 2 style) first gets the characters it lacks, since merges cannot join the
byte pieces it falls back to; ``core.sentencepiece_extend`` merges the result the way Bailong did.
An extended tokenizer folder is a normal Hugging Face tokenizer plus ``bailong_vocab.json``: the base it
came from (with a fingerprint, so a mismatched base is refused), each new token with the base pieces it
replaces, and a held-out slice of the text for the report.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from core.datafiles import load_training_examples
from core.errors import ConfigError, DataError, ModelError
from core.sentencepiece_extend import is_byte_piece, merged_model, metaspace_prepend_scheme, piece_text
from core.sentencepiece_extend import extended_spec as sentencepiece_spec
from core.tokenizer_extend import (
    SENTENCEPIECE, SPACE, base_fingerprint, check_extendable, extended_spec, next_free_id, token_bytes, token_text, tokenizer_family,
)

META_FILE = "bailong_vocab.json"
SPM_FILE = "tokenizer.model"  # the merged SentencePiece model, for SentencePiece bases that came with one
_SPM_ATTR = "bailong_sentencepiece_model"
HELD_OUT_FILE = "held_out.txt"
HELD_OUT_EVERY = 20  # every 20th document is kept out of learning, spread over the whole corpus
DEFAULT_NEW_TOKENS = 20000
_SYMBOL_BASE = 0xF0000  # supplementary private-use planes: never in user text the trainer sees
_MAX_PIECE_CHARS = 16  # SentencePiece's own max_sentencepiece_length


@dataclass
class LearnedVocab:
    merges: list[tuple[str, str]]  # over the base tokenizer's own pieces, lowest rank first
    tokens: list[str]  # the strings the merges add to the vocabulary, in order
    stats: dict[str, Any] = field(default_factory=dict)


def documents_from_refs(refs: list[str], base_dir: Path | None = None, workspace: Any = None) -> list[str]:
    """Plain text of every document in the data refs (files, samples, workspace corpora)."""
    examples, _paths = load_training_examples(list(refs), "auto", base_dir, workspace)
    docs = []
    for example in examples:
        if "text" in example:
            docs.append(example["text"])
        else:
            docs.append("\n".join(m["content"] for m in example["messages"]))
    return [d for d in docs if d.strip()]


def split_held_out(docs: list[str], every: int = HELD_OUT_EVERY) -> tuple[list[str], list[str]]:
    """``(learn, held_out)``; a corpus too small to spare a document holds out nothing."""
    if len(docs) < every:
        return docs, []
    held = docs[every - 1 :: every]
    learn = [d for i, d in enumerate(docs) if (i + 1) % every]
    return learn, held


def _learning_pre_tokenizer(tokenizer: Any, spec: dict[str, Any], family: str | None) -> Any:
    """How text is cut into words to learn from: the base's own cut, or SentencePiece's words for that family."""
    from tokenizers import pre_tokenizers

    if family != SENTENCEPIECE:
        return tokenizer.backend_tokenizer.pre_tokenizer
    # The base runs whole texts through its merges, but SentencePiece learned its pieces within words
    # (split at spaces); learning the same way keeps new pieces from spanning a space or punctuation.
    return pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme=metaspace_prepend_scheme(spec), split=True),
        pre_tokenizers.Punctuation("isolated"),
    ])


def _word_counts(tokenizer: Any, spec: dict[str, Any], family: str | None, docs: Iterable[str]) -> Counter:
    normalizer = tokenizer.backend_tokenizer.normalizer
    pre = _learning_pre_tokenizer(tokenizer, spec, family)
    counts: Counter = Counter()
    for doc in docs:
        text = normalizer.normalize_str(doc) if normalizer is not None else doc
        counts.update(word for word, _span in pre.pre_tokenize_str(text))
    return counts


def _new_characters(counts: Counter, vocab: dict[str, int], min_frequency: int) -> list[str]:
    """Characters a SentencePiece base lacks (it reads them as 2-4 byte pieces), most frequent first."""
    chars: Counter = Counter()
    for word, count in counts.items():
        for char in word:
            chars[char] += count
    found = [c for c, n in chars.items() if n >= min_frequency and c not in vocab and len(c.encode("utf-8")) >= 2]
    return sorted(found, key=lambda c: (-chars[c], c))


def _runs(parts: list[str], family: str | None) -> list[list[str]]:
    """The stretches of a segmented word that merges may join: byte-fallback pieces never merge."""
    if family != SENTENCEPIECE:
        return [parts]
    runs, current = [], []
    for part in parts:
        if is_byte_piece(part):
            runs.append(current)
            current = []
        else:
            current.append(part)
    return [*runs, current]


def learn_tokens(
    tokenizer: Any,
    docs: list[str],
    new_tokens: int = DEFAULT_NEW_TOKENS,
    min_frequency: int = 2,
    progress: Callable[[str], None] | None = None,
) -> LearnedVocab:
    """The ``new_tokens`` strings to add to the base tokenizer, learned from ``docs``, and the merges that build them.

    For a SentencePiece base the characters it lacks come first (most frequent first); the rest of the
    budget goes to merges, learned as for a byte-level base over the base's segmentation with those
    characters added.
    """
    from tokenizers import Tokenizer, models, trainers

    if new_tokens <= 0:
        raise ConfigError(f"vocab.new_tokens: must be at least 1 (got {new_tokens})")
    spec = check_extendable(tokenizer)
    family = tokenizer_family(spec)
    base_vocab = spec["model"]["vocab"]
    say = progress or (lambda _m: None)
    say(f"segmenting {sum(len(d) for d in docs):,} characters with the base tokenizer")
    counts = _word_counts(tokenizer, spec, family, docs)
    chars: list[str] = []
    model = tokenizer.backend_tokenizer.model
    if family == SENTENCEPIECE:
        chars = _new_characters(counts, base_vocab, min_frequency)[:new_tokens]
        model = Tokenizer.from_str(json.dumps(sentencepiece_spec(spec, chars, next_free_id(spec))[0])).model
    budget = new_tokens - len(chars)
    symbols: dict[str, str] = {}
    pieces: list[str] = []
    words: dict[str, int] = {}
    for word, count in counts.items():
        for parts in _runs([t.value for t in model.tokenize(word)], family):
            if len(parts) < 2:
                continue  # one piece already: nothing to join
            for part in parts:
                if part not in symbols:
                    symbols[part] = chr(_SYMBOL_BASE + len(pieces))
                    pieces.append(part)
            key = "".join(symbols[p] for p in parts)
            words[key] = words.get(key, 0) + count
    if not words and not chars:
        raise DataError("the corpus has no text the base tokenizer splits into several pieces, so there is nothing to learn")

    merges: list[tuple[str, str]] = []
    tokens: list[str] = list(chars)
    if budget > 0 and words:
        say(f"learning up to {budget:,} merges over {len(words):,} distinct words")
        # Some merges rebuild a string the base vocabulary already has; ask for a margin and cut to the count.
        trainer = trainers.BpeTrainer(
            vocab_size=len(pieces) + budget + budget // 10 + 16, min_frequency=min_frequency,
            show_progress=False, limit_alphabet=len(pieces) + 1, special_tokens=[],
            max_token_length=_MAX_PIECE_CHARS if family == SENTENCEPIECE else None,
        )
        learner = Tokenizer(models.BPE())
        learner.train_from_iterator((w for w, c in words.items() for _ in range(c)), trainer, length=sum(words.values()))
        raw = json.loads(learner.to_str())["model"]["merges"]

        def spell(symbol_string: str) -> str:
            return "".join(pieces[ord(c) - _SYMBOL_BASE] for c in symbol_string)

        known = set(base_vocab) | set(chars)
        for merge in raw:
            left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
            if len(tokens) == new_tokens:
                break
            left, right = spell(left), spell(right)
            merges.append((left, right))
            if left + right not in known:
                known.add(left + right)
                tokens.append(left + right)
    if len(tokens) < new_tokens:
        raise DataError(
            f"vocab.new_tokens: the corpus supports only {len(tokens):,} new tokens seen at least {min_frequency} times "
            f"(asked for {new_tokens:,}); add more Traditional Chinese text or lower new_tokens"
        )
    stats = {"characters": sum(len(d) for d in docs), "documents": len(docs), "distinct_words": len(words),
             "base_pieces_seen": len(pieces), "min_frequency": min_frequency, "tokenizer_family": family,
             "new_characters": len(chars)}
    return LearnedVocab(merges, tokens, stats)


def _base_sentencepiece_model(tokenizer: Any) -> bytes | None:
    """The base's own tokenizer.model, when it came with one."""
    path = getattr(tokenizer, "vocab_file", None) or tokenizer.init_kwargs.get("vocab_file")
    if not path or not str(path).endswith(".model") or not Path(path).is_file():
        return None
    return Path(path).read_bytes()


def extend_tokenizer(tokenizer: Any, learned: LearnedVocab) -> tuple[Any, list[dict[str, Any]]]:
    """The base tokenizer with the learned tokens, and one record per new token (id, text, pieces)."""
    from tokenizers import Tokenizer

    spec = check_extendable(tokenizer)
    spm_model = None
    sentencepiece = tokenizer_family(spec) == SENTENCEPIECE
    if sentencepiece:
        first_id = next_free_id(spec)
        new_spec, added = sentencepiece_spec(spec, learned.tokens, first_id)
        base_model_file = _base_sentencepiece_model(tokenizer)
        spm_model = merged_model(base_model_file, learned.tokens, first_id) if base_model_file else None
        show = piece_text
    else:
        new_spec, added = extended_spec(spec, learned.merges)
        show = token_text
    extended = _clone_with_backend(tokenizer, Tokenizer.from_str(json.dumps(new_spec)), spm_model)
    base_model = tokenizer.backend_tokenizer.model
    records = []
    for token, token_id in added:
        # A byte the byte-level base vocabulary lacked has no pieces: the base dropped it. A SentencePiece
        # base reads a new character as its byte pieces, which is what zip-tie averages.
        parts = base_model.tokenize(token) if len(token) > 1 or sentencepiece else []
        text = show(token) if parts else f"<0x{token_bytes(token)[0]:02X}>"
        records.append({"id": token_id, "token": token, "text": text, "kind": "learned" if parts else "byte",
                        "pieces": [t.id for t in parts], "piece_texts": [show(t.value) for t in parts]})
    return extended, records


def _clone_with_backend(tokenizer: Any, backend: Any, spm_model: bytes | None = None) -> Any:
    """A transformers tokenizer like ``tokenizer`` (same special tokens and template) over ``backend``."""
    import tempfile

    from core.models import load_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        backend.save(str(Path(tmp) / "tokenizer.json"))
        (Path(tmp) / SPM_FILE).unlink(missing_ok=True)  # never leave the base's unextended model beside it
        clone = load_tokenizer(tmp)
    if spm_model is not None:
        setattr(clone, _SPM_ATTR, spm_model)
    return clone


def save_extended(tokenizer: Any, records: list[dict[str, Any]], out_dir: Path, meta: dict[str, Any],
                  held_out: list[str]) -> Path:
    """Write the tokenizer folder atomically: a half-written folder never looks like a finished one."""
    out_dir = Path(out_dir)
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    tokenizer.save_pretrained(partial)
    (partial / SPM_FILE).unlink(missing_ok=True)
    if (spm_model := getattr(tokenizer, _SPM_ATTR, None)) is not None:
        (partial / SPM_FILE).write_bytes(spm_model)
    (partial / META_FILE).write_text(json.dumps({**meta, "new_tokens": records}, ensure_ascii=False), encoding="utf-8")
    (partial / HELD_OUT_FILE).write_text("\n\n".join(d.replace("\n\n", "\n") for d in held_out), encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    partial.rename(out_dir)
    return out_dir


def read_meta(folder: Path) -> dict[str, Any]:
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise ModelError(f"vocab.tokenizer: {folder} is not an extended tokenizer folder (no {META_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


def load_extended(folder: str | Path, base_tokenizer: Any) -> tuple[Any, dict[str, Any]]:
    """An extended tokenizer and its metadata, refused unless it was extended from ``base_tokenizer``."""
    from core.models import load_tokenizer

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"vocab.tokenizer: folder not found: {folder}")
    meta = read_meta(folder)
    expected = base_fingerprint(check_extendable(base_tokenizer))
    if meta.get("base_fingerprint") != expected or meta.get("base_vocab_size") != len(base_tokenizer):
        raise ModelError(
            f"vocab.tokenizer: {folder} was extended from a different base tokenizer "
            f"({meta.get('base_model', 'unknown')}, {meta.get('base_vocab_size')} tokens) than this model's ({len(base_tokenizer)} tokens)"
        )
    tokenizer = load_tokenizer(str(folder))
    if (folder / SPM_FILE).is_file():
        setattr(tokenizer, _SPM_ATTR, (folder / SPM_FILE).read_bytes())
    return tokenizer, meta


def learn_extension(
    refs: list[str], base_tokenizer: Any, *, new_tokens: int = DEFAULT_NEW_TOKENS, min_frequency: int = 2,
    base_model: str = "default", base_dir: Path | None = None, workspace: Any = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Any, dict[str, Any], list[str]]:
    """Read the corpora, learn and extend, in memory: ``(tokenizer, metadata, held-out documents)``."""
    if new_tokens <= 0:
        raise ConfigError(f"vocab.new_tokens: must be at least 1 (got {new_tokens})")
    docs = documents_from_refs(refs, base_dir, workspace)
    learn, held = split_held_out(docs)
    learned = learn_tokens(base_tokenizer, learn, new_tokens, min_frequency, progress)
    extended, records = extend_tokenizer(base_tokenizer, learned)
    meta = {
        "base_model": base_model, "base_vocab_size": len(base_tokenizer),
        "base_fingerprint": base_fingerprint(check_extendable(base_tokenizer)), "vocab_size": len(extended),
        "sources": list(refs), "held_out_documents": len(held), "learned_tokens": len(learned.tokens),
        "byte_tokens": len(records) - len(learned.tokens), **learned.stats,
    }
    return extended, {**meta, "new_tokens": records}, held


def learn_vocab(refs: list[str], base_tokenizer: Any, out_dir: str | Path, **options: Any) -> tuple[Any, dict[str, Any]]:
    """``learn_extension`` and save the tokenizer folder; returns the extended tokenizer and its metadata."""
    extended, meta, held = learn_extension(refs, base_tokenizer, **options)
    records = meta.pop("new_tokens")
    save_extended(extended, records, Path(out_dir), meta, held)
    return extended, {**meta, "new_tokens": records}


def held_out_text(folder: str | Path) -> list[str]:
    path = Path(folder) / HELD_OUT_FILE
    if not path.is_file():
        return []
    return [d for d in path.read_text(encoding="utf-8").split("\n\n") if d.strip()]
