"""Vocabulary extension inside a training run, and rebuilding it when the run is reloaded.

Before the run folder is written, the run's tokenizer is extended (learned from ``vocab.learn_from`` or
read from ``vocab.tokenizer``, refusing one made from another base); the training data is then tokenised
with it. When the model loads, its embeddings grow and the new rows are initialised and optionally warmed
up, before LoRA goes on. A LoRA adapter cannot rebuild those rows, so the run keeps them
(``vocab/`` in the run folder, for resuming, and ``adapter/vocab_embeddings.safetensors`` with the
extended tokenizer, for reloading).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from core.datafiles import resolve_data_path
from core.vocab import META_FILE, SPM_FILE, held_out_text, learn_extension, load_extended, read_meta, save_extended
from core.ziptie import ROWS_FILE, apply_new_rows, load_new_rows, new_rows_state, resize_and_init, warm_up

VOCAB_DIR = "vocab"


@dataclass
class RunVocab:
    meta: dict[str, Any]
    held_out: list[str]
    saved_rows: Path | None = None  # rows from an earlier attempt of the same run (resume)
    rows: dict[str, Any] = field(default_factory=dict)  # filled when the model has been extended

    @property
    def base_size(self) -> int:
        return int(self.meta["base_vocab_size"])


def absolute_vocab_refs(config: Any, base_dir: Path | None):
    """The config with ``vocab.learn_from`` files and ``vocab.tokenizer`` made absolute."""
    vocab = config.vocab
    refs = [r if r.startswith(("sample:", "corpus:")) else str(resolve_data_path(r, base_dir)) for r in vocab.learn_from]
    tokenizer = vocab.tokenizer
    if tokenizer:
        path = Path(tokenizer).expanduser()
        tokenizer = str((base_dir / path if base_dir is not None and not path.is_absolute() else path).resolve())
    return config.model_copy(update={"vocab": vocab.model_copy(update={"learn_from": refs, "tokenizer": tokenizer})})


def extension_for_run(config: Any, base_tokenizer: Any, workspace: Any, run_path: Path, resume: bool) -> tuple[Any, RunVocab]:
    """The extended tokenizer and what the model needs to match it; learning happens here, before any write."""
    saved = run_path / VOCAB_DIR
    if resume and (saved / META_FILE).is_file():
        tokenizer, meta = load_extended(saved, base_tokenizer)
        rows = saved if (saved / ROWS_FILE).is_file() else None
        return tokenizer, RunVocab(meta, held_out_text(saved), rows)
    if config.vocab.tokenizer:
        tokenizer, meta = load_extended(config.vocab.tokenizer, base_tokenizer)
        return tokenizer, RunVocab(meta, held_out_text(config.vocab.tokenizer))
    tokenizer, meta, held = learn_extension(
        config.vocab.learn_from, base_tokenizer, new_tokens=config.vocab.new_tokens,
        min_frequency=config.vocab.min_frequency, base_model=config.base_model, workspace=workspace,
    )
    return tokenizer, RunVocab(meta, held)


def extend_model(model: Any, config: Any, vocab: RunVocab, batch_stream: Iterator[dict[str, Any]], device: str) -> None:
    """Grow the base model's embeddings to the extended vocabulary: saved rows, else init (+ warm-up)."""
    if vocab.saved_rows is not None:
        apply_new_rows(model, load_new_rows(vocab.saved_rows), vocab.base_size)
    else:
        resize_and_init(model, vocab.meta["new_tokens"], vocab.base_size, config.vocab.init, config.vocab.tie_embeddings)
        warm_up(model, batch_stream, config.vocab.warmup_steps, vocab.base_size, device)
    vocab.rows = new_rows_state(model, vocab.base_size)


def save_run_vocab(run_path: Path, tokenizer: Any, vocab: RunVocab) -> None:
    """Keep the tokenizer and the initialised rows in the run folder, so a resumed run does not redo them."""
    from safetensors.torch import save_file

    target = run_path / VOCAB_DIR
    if (target / ROWS_FILE).is_file():
        return
    meta = {k: v for k, v in vocab.meta.items() if k != "new_tokens"}
    save_extended(tokenizer, vocab.meta["new_tokens"], target, meta, vocab.held_out)
    save_file(vocab.rows, str(target / ROWS_FILE))


def copy_to_adapter(run_path: Path, adapter: Path) -> None:
    """What the adapter folder needs beyond the LoRA weights and the (already saved) extended tokenizer."""
    # tokenizer.model exists only for SentencePiece bases that came with one.
    optional = [SPM_FILE] if (run_path / VOCAB_DIR / SPM_FILE).is_file() else []
    for name in (ROWS_FILE, META_FILE, *optional):
        shutil.copy2(run_path / VOCAB_DIR / name, adapter / name)


def apply_adapter_vocab(model: Any, adapter: Path) -> None:
    """On reload: grow the base model to the adapter's vocabulary and put the saved rows in place."""
    if (adapter / ROWS_FILE).is_file():
        apply_new_rows(model, load_new_rows(adapter), int(read_meta(adapter)["base_vocab_size"]))
