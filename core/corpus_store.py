"""Corpora on disk: one folder per corpus under ``<workspace>/corpora/<NAME>/``.

A folder holds ``data.parquet`` (one column ``text``, or ``messages`` as a list of role/content structs)
and ``manifest.json`` (name, kind, counts, sha256, source files, the pipeline that made it and its
statistics). A corpus is built in a hidden staging folder beside the others and renamed into place only
when complete, so a failed or cancelled import leaves nothing behind and ``corpus:NAME`` never sees a
half-written corpus. Everything here reads the folders only; the database row is a listing, not the truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

from core.errors import DataError

DATA_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_STAGING_PREFIX = ".staging-"

Example = dict[str, Any]


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise DataError(f"corpus name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def corpus_dir(root: Path, name: str) -> Path:
    return Path(root) / check_name(name)


def exists(root: Path, name: str) -> bool:
    return (corpus_dir(root, name) / MANIFEST_FILE).is_file()


def require_new(root: Path, name: str) -> None:
    if corpus_dir(root, name).exists():
        raise DataError(f"corpus {name!r} already exists; choose another name or delete it first")


def _require(root: Path, name: str) -> Path:
    folder = corpus_dir(root, name)
    if not (folder / MANIFEST_FILE).is_file():
        known = ", ".join(m["name"] for m in list_corpora(root)) or "none"
        raise DataError(f"no corpus {name!r} in {root}; corpora: {known}")
    return folder


def corpus_data_file(root: Path, name: str) -> Path:
    """The parquet file behind ``corpus:NAME``; one line naming the known corpora when it is missing."""
    return _require(root, name) / DATA_FILE


def load_manifest(root: Path, name: str) -> dict[str, Any]:
    return json.loads((_require(root, name) / MANIFEST_FILE).read_text(encoding="utf-8"))


def list_corpora(root: Path) -> list[dict[str, Any]]:
    """Manifests of every complete corpus, by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        manifest = folder / MANIFEST_FILE
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        found.append(json.loads(manifest.read_text(encoding="utf-8")))
    return found


def iter_examples(root: Path, name: str, batch_rows: int = 1024) -> Iterator[Example]:
    """The corpus row by row, read a batch at a time so memory stays flat on large corpora."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(corpus_data_file(root, name))
    for batch in parquet.iter_batches(batch_size=batch_rows):
        yield from batch.to_pylist()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- writing -----------------------------------------------------------------------------------------------

def staging_dir(root: Path, name: str) -> Path:
    """A fresh hidden folder for building ``name``; the caller publishes or discards it."""
    check_name(name)
    folder = Path(root) / f"{_STAGING_PREFIX}{name}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def publish(staging: Path, root: Path, name: str, manifest: dict[str, Any]) -> Path:
    """Write the manifest and move the finished staging folder into place in one rename."""
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    target = corpus_dir(root, name)
    try:
        os.rename(staging, target)  # fails if another import published the same name meanwhile
    except OSError:
        raise DataError(f"corpus {name!r} already exists; choose another name or delete it first") from None
    return target


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def arrow_schema(kind: str):
    import pyarrow as pa

    if kind == "text":
        return pa.schema([("text", pa.string())])
    return pa.schema([("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))])


class ParquetRows:
    """Appends examples of one kind to a parquet file in row groups."""

    def __init__(self, path: Path, kind: str, rows_per_group: int = 4096) -> None:
        import pyarrow.parquet as pq

        self.path, self.kind, self.rows = Path(path), kind, 0
        self._schema = arrow_schema(kind)
        self._writer = pq.ParquetWriter(self.path, self._schema, compression="zstd")
        self._pending: list[Example] = []
        self._group = rows_per_group

    def add(self, example: Example) -> None:
        self._pending.append(example)
        if len(self._pending) >= self._group:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self._pending:
            if self.kind == "text":  # a plain string column builds much faster than from row dicts
                table = pa.table([pa.array([e["text"] for e in self._pending], pa.string())], schema=self._schema)
            else:
                table = pa.Table.from_pylist(self._pending, schema=self._schema)
            self._writer.write_table(table)
            self.rows += len(self._pending)
            self._pending = []

    def close(self) -> None:
        self.flush()
        self._writer.close()


# -- managing ----------------------------------------------------------------------------------------------

def rename_corpus(root: Path, old: str, new: str) -> dict[str, Any]:
    folder = _require(root, old)
    require_new(root, new)
    manifest = load_manifest(root, old)
    manifest["name"] = new
    os.rename(folder, corpus_dir(root, new))
    (corpus_dir(root, new) / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def delete_corpus(root: Path, name: str) -> None:
    folder = _require(root, name)
    # Rename first so a reader never sees a folder with half its files gone.
    doomed = Path(root) / f".deleting-{name}-{os.getpid()}"
    os.rename(folder, doomed)
    shutil.rmtree(doomed)


def export_corpus(root: Path, name: str, out: Path) -> int:
    """Write the corpus to ``out`` as .jsonl, .parquet or (text corpora) .txt; returns the row count."""
    out = Path(out)
    suffix = out.suffix.lower()
    manifest = load_manifest(root, name)
    if suffix == ".parquet":
        shutil.copyfile(corpus_data_file(root, name), out)
        return int(manifest["rows"])
    if suffix not in (".jsonl", ".txt"):
        raise DataError(f"export: unknown file type {suffix or '(none)'!r}; use .jsonl, .parquet or .txt")
    if suffix == ".txt" and manifest["kind"] != "text":
        raise DataError(f"export: corpus {name!r} holds conversations; export it as .jsonl or .parquet")
    rows = 0
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8") as f:
        for example in iter_examples(root, name):
            if suffix == ".txt":
                # Blank lines separate documents, so newlines inside one survive the round trip.
                f.write(example["text"].replace("\n\n", "\n") + "\n\n")
            else:
                f.write(json.dumps(example, ensure_ascii=False) + "\n")
            rows += 1
    os.replace(partial, out)
    return rows
