"""Reading training files into plain examples: ``{"text": ...}`` or ``{"messages": [...]}``.

Users bring text, JSON lines in several community formats (plain text, Alpaca, ShareGPT, OpenAI
messages), CSV and parquet, in whatever encoding their editor chose. This module decodes them (UTF-8,
UTF-16 with a BOM, Big5, GB18030 — the last three with a warning), detects the record format per file,
and normalises every record so the rest of the engine sees only two shapes. Every refusal is one line
naming the file, and the line number where there is one.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from core.errors import DataError
from core.workspace import resolve_home

if TYPE_CHECKING:
    from core.workspace import Workspace

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLES = {
    "tc_corpus": ASSETS / "corpus" / "tc_sample.txt",
    "conversations": ASSETS / "conversations" / "sample_sft.jsonl",
}
SUFFIXES = (".txt", ".jsonl", ".json", ".csv", ".parquet")
_ROLE_ALIASES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "model": "assistant",
    "bot": "assistant", "system": "system",
}

Example = dict[str, Any]


def resolve_data_path(ref: str, base_dir: Path | None = None, corpora_dir: Path | None = None) -> Path:
    """A data reference from the config (path, ``sample:NAME`` or ``corpus:NAME``) as an absolute path.

    Corpora live in the workspace's ``corpora/`` folder; without ``corpora_dir`` that is the workspace
    ``resolve_home()`` picks ($BAILONG_HOME or the per-user default).
    """
    if ref.startswith("sample:"):
        name = ref.split(":", 1)[1]
        if name not in SAMPLES:
            raise DataError(f"data.train: unknown sample {name!r}; bundled samples: {', '.join(SAMPLES)}")
        return SAMPLES[name]
    if ref.startswith("corpus:"):
        from core.corpus_store import corpus_data_file

        return corpus_data_file(corpora_dir if corpora_dir is not None else resolve_home().corpora, ref.split(":", 1)[1])
    path = Path(ref).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path.resolve()


def absolute_data_refs(config, base_dir: Path | None):
    """The config with file paths in ``data.train`` made absolute, so a stored copy stands alone."""
    refs = [r if r.startswith(("sample:", "corpus:")) else str(resolve_data_path(r, base_dir)) for r in config.data.train]
    return config.model_copy(update={"data": config.data.model_copy(update={"train": refs})})


def decode_bytes(raw: bytes, name: str) -> str:
    """Decode a text file, preferring UTF-8 and recognising the encodings TC users actually meet."""
    encoding = detect_encoding(raw, name)
    if encoding not in ("utf-8", "utf-8-sig"):
        warnings.warn(f"{name}: decoded as {encoding.upper() if encoding == 'utf-16' else encoding} (not UTF-8)", stacklevel=2)
    return raw.decode(encoding)


def detect_encoding(raw: bytes, name: str, *, complete: bool = True) -> str:
    """The codec name for ``raw``; with ``complete=False`` it is only the head of a longer stream."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in raw[:4096]:
        raise DataError(f"{name}: looks like a binary file (contains NUL bytes), not text")
    if not complete and b"\n" in raw:
        # A newline byte never occurs inside a UTF-8, Big5 or GB18030 character: the head cut there decodes whole.
        raw = raw[: raw.rindex(b"\n") + 1]
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if not complete and error.reason == "unexpected end of data":
            return "utf-8"
    encoding = _guess_cjk_encoding(raw)
    if encoding is None:
        raise DataError(f"{name}: not UTF-8 and not recognisable as UTF-16, Big5 or GB18030; re-save it as UTF-8")
    return encoding


def _guess_cjk_encoding(raw: bytes) -> str | None:
    """Big5 or GB18030: both accept most byte pairs, so pick the one whose text reads as common characters."""
    candidates = []
    for encoding in ("big5hkscs", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        candidates.append((_commonness(text), encoding))
    # Real prose scores ~0.5, random bytes read as either codec ~0.17: below 0.3 the file is not text.
    if not candidates or max(candidates)[0] < 0.3:
        return None
    return max(candidates)[1]


def _commonness(text: str) -> float:
    # The CJK block U+4E00..U+62FF holds most everyday characters in both scripts; mis-decoded text
    # scatters into rarer blocks, private use, and compatibility forms.
    cjk = [c for c in text if ord(c) > 0x2E80]
    if not cjk:
        return 0.0
    return sum(1 for c in cjk if 0x4E00 <= ord(c) <= 0x62FF or 0x3000 <= ord(c) <= 0x303F or 0xFF00 <= ord(c) <= 0xFFEF) / len(cjk)


def read_text_file(path: Path) -> str:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if not path.is_file():
        raise DataError(f"data path is not a file: {path}")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path.name}: file is empty")
    return decode_bytes(raw, path.name)


def _documents_from_text(text: str) -> list[str]:
    """Blank-line separated paragraphs when the file has blank lines, else one document per line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\n\n" in lines.strip():
        blocks = [b.strip() for b in lines.split("\n\n")]
    else:
        blocks = [line.strip() for line in lines.split("\n")]
    return [b for b in blocks if b]


def _records_from_json(text: str, name: str, suffix: str) -> Iterator[tuple[int, Any]]:
    if suffix == ".json":
        stripped = text.lstrip()
        if stripped.startswith("["):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as error:
                raise DataError(f"{name}: line {error.lineno}: invalid JSON ({error.msg})") from None
            yield from ((i + 1, record) for i, record in enumerate(data))
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{name}: line {number}: invalid JSON ({error.msg})") from None


def _records_from_csv(text: str, name: str) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise DataError(f"{name}: CSV has no header row")
    for number, row in enumerate(reader, start=2):
        yield number, row


def _records_from_parquet(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{path.name}: not a readable parquet file ({error})") from None
    for number, row in enumerate(table.to_pylist(), start=1):
        yield number, row


def detect_format(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("messages"), list):
        return "messages"
    if isinstance(record.get("conversations"), list):
        return "sharegpt"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if isinstance(record.get("text"), str):
        return "text"
    return None


def _normalise(record: Any, fmt: str, where: str) -> Example:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if fmt == "text":
        text = record.get("text")
        if not isinstance(text, str):
            raise DataError(f"{where}: 'text' format needs a string field 'text'")
        return {"text": text}
    if fmt == "alpaca":
        messages = []
        if record.get("system"):
            messages.append({"role": "system", "content": str(record["system"])})
        for turn in record.get("history") or []:
            if not (isinstance(turn, (list, tuple)) and len(turn) == 2):
                raise DataError(f"{where}: Alpaca 'history' must be a list of [instruction, response] pairs")
            messages += [{"role": "user", "content": str(turn[0])}, {"role": "assistant", "content": str(turn[1])}]
        prompt = str(record.get("instruction") or "")
        if record.get("input"):
            prompt = f"{prompt}\n\n{record['input']}" if prompt else str(record["input"])
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": str(record.get("output") or "")}]
        return {"messages": messages}
    key, role_key, content_key = ("messages", "role", "content") if fmt == "messages" else ("conversations", "from", "value")
    turns = record.get(key)
    if not isinstance(turns, list):
        raise DataError(f"{where}: {fmt} format needs a list field {key!r}")
    messages = []
    for turn in turns:
        if not isinstance(turn, dict):
            raise DataError(f"{where}: each turn must be an object with {role_key!r} and {content_key!r}")
        role = _ROLE_ALIASES.get(str(turn.get(role_key, turn.get("role", ""))).lower())
        content = turn.get(content_key, turn.get("content"))
        if role is None or not isinstance(content, str):
            raise DataError(f"{where}: turn needs {role_key!r} (user/assistant/system) and a string {content_key!r}")
        messages.append({"role": role, "content": content})
    return {"messages": messages}


def read_examples(path: Path, fmt: str = "auto") -> list[Example]:
    """All examples of one file, normalised; raises DataError naming the file (and line) on bad input."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path.name}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(SUFFIXES)}")
    if suffix == ".parquet":
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        records: Iterable[tuple[int, Any]] = _records_from_parquet(path)
    else:
        text = read_text_file(path)
        if suffix == ".txt":
            if fmt not in ("auto", "text"):
                raise DataError(f"{path.name}: a .txt file holds plain text, but data.format is {fmt!r}")
            return [{"text": doc} for doc in _documents_from_text(text)]
        records = _records_from_csv(text, path.name) if suffix == ".csv" else _records_from_json(text, path.name, suffix)

    examples: list[Example] = []
    file_format = None if fmt == "auto" else fmt
    for number, record in records:
        where = f"{path.name}: line {number}" if suffix != ".parquet" else f"{path.name}: row {number}"
        if file_format is None:
            file_format = detect_format(record)
            if file_format is None:
                keys = ", ".join(record) if isinstance(record, dict) else type(record).__name__
                raise DataError(
                    f"{where}: cannot tell the record format from keys ({keys}); expected 'text', "
                    "'instruction'+'output' (Alpaca), 'conversations' (ShareGPT) or 'messages'"
                )
        examples.append(_normalise(record, file_format, where))
    if not examples:
        raise DataError(f"{path.name}: file holds no records")
    return examples


def load_training_examples(refs: list[str], fmt: str, base_dir: Path | None,
                           workspace: "Workspace | None" = None) -> tuple[list[Example], list[Path]]:
    """Every example from every file in ``data.train``, with the resolved paths for the record."""
    corpora = workspace.corpora if workspace is not None else None
    paths = [resolve_data_path(ref, base_dir, corpora) for ref in refs]
    examples: list[Example] = []
    for path in paths:
        examples.extend(read_examples(path, fmt))
    return examples, paths
