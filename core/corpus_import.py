"""Streaming readers for corpus import: files (and zip archives of files) in, examples out, one at a time.

``core.datafiles`` reads a training file whole; a corpus upload may be gigabytes, so this module reads
the same formats (text, JSON lines / arrays in the text, Alpaca, ShareGPT and OpenAI shapes, CSV,
parquet) as streams with bounded memory, reusing that module's encoding detection and record
normalisation. It guards what only large or hostile uploads do: a 100 MB "line", a file that switches
encoding half-way, malformed JSON lines (skipped and counted, or fatal, by policy), and zip archives with
absolute or ``..`` member paths or a suspicious expansion ratio. Every refusal is one line naming the file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Callable, Iterator

from core.datafiles import SUFFIXES, _normalise, detect_encoding, detect_format
from core.errors import DataError

IMPORT_SUFFIXES = SUFFIXES + (".zip",)
MAX_LINE_CHARS = 8_000_000  # one document per line; anything longer is a broken file, not a document
HEAD_BYTES = 1 << 16
ZIP_MAX_RATIO = 100  # text compresses 3-10x; 100x and more over many megabytes is a zip bomb
ZIP_RATIO_FLOOR = 8 << 20
BAD_RECORD_POLICIES = ("skip", "fail")
_KEPT_BAD_LINES = 10

Example = dict[str, Any]


@dataclass
class FileReport:
    name: str
    bytes: int = 0
    sha256: str = ""
    encoding: str = ""
    format: str = ""
    records: int = 0
    skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Source:
    """One readable input: a file on disk or a member of a zip archive."""

    name: str
    size: int
    open: Callable[[], BinaryIO]

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix.lower()


class _Meter(io.RawIOBase):
    """Passes bytes through while hashing and counting them (the sha256 and the progress bar)."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None]) -> None:
        self._raw, self._on_bytes = raw, on_bytes
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        if n:
            self.digest.update(memoryview(buffer)[:n])
            self._on_bytes(n)
        return n


def _check_zip(path: Path, archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = [m for m in archive.infolist() if not m.is_dir()]
    for member in members:
        parts = PurePosixPath(member.filename.replace("\\", "/")).parts
        if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise DataError(f"{path.name}: member {member.filename!r} has an absolute or '..' path; refusing the archive")
    packed = sum(m.compress_size for m in members)
    unpacked = sum(m.file_size for m in members)
    if unpacked > ZIP_RATIO_FLOOR and unpacked > ZIP_MAX_RATIO * max(packed, 1):
        raise DataError(f"{path.name}: expands {unpacked / max(packed, 1):.0f}x ({unpacked:,} bytes); "
                        f"refusing archives over {ZIP_MAX_RATIO}x")
    return members


def expand_sources(paths: list[Path], stack: ExitStack) -> list[Source]:
    """Files as sources; a zip archive becomes one source per supported member (others are ignored)."""
    sources: list[Source] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        suffix = path.suffix.lower()
        if suffix not in IMPORT_SUFFIXES:
            raise DataError(f"{path.name}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(IMPORT_SUFFIXES)}")
        if suffix != ".zip":
            sources.append(Source(path.name, path.stat().st_size, lambda p=path: p.open("rb")))
            continue
        try:
            archive = stack.enter_context(zipfile.ZipFile(path))
        except zipfile.BadZipFile:
            raise DataError(f"{path.name}: not a readable zip archive") from None
        members = [m for m in _check_zip(path, archive)
                   if PurePosixPath(m.filename).suffix.lower() in SUFFIXES and not m.filename.startswith("__MACOSX/")
                   and not PurePosixPath(m.filename).name.startswith(".")]
        if not members:
            raise DataError(f"{path.name}: the archive holds no {', '.join(SUFFIXES)} files")
        for member in members:
            sources.append(Source(f"{path.name}/{member.filename}", member.file_size,
                                  lambda m=member, a=archive: a.open(m)))
    return sources


class SourceReader:
    """Examples of one source, streamed; counts into a ``FileReport`` and reports bytes read."""

    def __init__(self, source: Source, on_bad: str = "skip", on_bytes: Callable[[int], None] = lambda n: None) -> None:
        if on_bad not in BAD_RECORD_POLICIES:
            raise DataError(f"bad-record policy {on_bad!r}: use one of {', '.join(BAD_RECORD_POLICIES)}")
        self.source, self.on_bad, self._on_bytes = source, on_bad, on_bytes
        self.report = FileReport(source.name, bytes=source.size)

    def __iter__(self) -> Iterator[Example]:
        name = self.source.name
        with self.source.open() as raw:
            head = raw.read(HEAD_BYTES)
        if not head.strip():
            raise DataError(f"{name}: file is empty")
        if self.source.suffix == ".parquet":
            yield from self._parquet()
        else:
            self.report.encoding = detect_encoding(head, name, complete=len(head) < HEAD_BYTES)
            yield from self._text_formats(head)
        if self.report.records == 0:
            raise DataError(f"{name}: file holds no records")

    # -- text-based formats ----------------------------------------------------------------------------

    def _text_formats(self, head: bytes) -> Iterator[Example]:
        name, encoding = self.source.name, self.report.encoding
        with self.source.open() as raw:
            meter = _Meter(raw, self._on_bytes)
            stream = io.TextIOWrapper(io.BufferedReader(meter, 1 << 20), encoding=encoding, errors="strict", newline="")
            self._line = 0
            try:
                if self.source.suffix == ".txt":
                    yield from self._plain_text(stream, head)
                elif self.source.suffix == ".csv":
                    yield from self._csv(stream)
                else:
                    yield from self._json(stream, head)
            except UnicodeDecodeError:
                raise DataError(f"{name}: bytes near line {self._line + 1} are not valid {encoding} "
                                "(the file mixes encodings?); re-save it as UTF-8") from None
            except csv.Error as error:
                raise DataError(f"{name}: line {self._line + 1}: unreadable CSV ({error})") from None
            self.report.sha256 = meter.digest.hexdigest()

    def _lines(self, stream: io.TextIOWrapper) -> Iterator[str]:
        while True:
            line = stream.readline(MAX_LINE_CHARS + 1)
            if not line:
                return
            self._line += 1
            if len(line) > MAX_LINE_CHARS:
                raise DataError(f"{self.source.name}: line {self._line} is longer than {MAX_LINE_CHARS:,} characters; "
                                "put one document per line (or per paragraph)")
            yield line.rstrip("\r\n")

    def _plain_text(self, stream: io.TextIOWrapper, head: bytes) -> Iterator[Example]:
        # Like core.datafiles: blank-line separated paragraphs when the file has blank lines, else lines.
        sample = codecs.decode(head, self.report.encoding, errors="ignore").replace("\r\n", "\n").strip()
        paragraphs = "\n\n" in sample or "\n \n" in sample
        self.report.format = "paragraphs" if paragraphs else "lines"
        block: list[str] = []
        size = 0
        for line in self._lines(stream):
            if not paragraphs:
                if line.strip():
                    self.report.records += 1
                    yield {"text": line.strip()}
                continue
            if line.strip():
                block.append(line.strip())
                size += len(line)
                if size > MAX_LINE_CHARS:
                    raise DataError(f"{self.source.name}: paragraph ending at line {self._line} is longer than "
                                    f"{MAX_LINE_CHARS:,} characters")
            elif block:
                self.report.records += 1
                yield {"text": "\n".join(block)}
                block, size = [], 0
        if block:
            self.report.records += 1
            yield {"text": "\n".join(block)}

    def _json(self, stream: io.TextIOWrapper, head: bytes) -> Iterator[Example]:
        first = codecs.decode(head, self.report.encoding, errors="ignore").lstrip("\ufeff \t\r\n")[:1]
        if self.source.suffix == ".json" and first == "[":
            # A JSON array cannot be streamed without a parser of our own; it is read whole (use .jsonl for big data).
            try:
                data = json.load(stream)
            except json.JSONDecodeError as error:
                raise DataError(f"{self.source.name}: line {error.lineno}: invalid JSON ({error.msg})") from None
            records = ((i + 1, record) for i, record in enumerate(data))
        else:
            records = self._json_lines(stream)
        yield from self._normalised(records, "line")

    def _json_lines(self, stream: io.TextIOWrapper) -> Iterator[tuple[int, Any]]:
        for line in self._lines(stream):
            if not line.strip():
                continue
            try:
                yield self._line, json.loads(line)
            except json.JSONDecodeError as error:
                self._bad(self._line, f"invalid JSON ({error.msg})")

    def _csv(self, stream: io.TextIOWrapper) -> Iterator[Example]:
        csv.field_size_limit(MAX_LINE_CHARS)
        reader = csv.DictReader(stream)
        if not reader.fieldnames:
            raise DataError(f"{self.source.name}: CSV has no header row")

        def rows() -> Iterator[tuple[int, Any]]:
            for row in reader:
                self._line = reader.line_num
                yield reader.line_num, row

        yield from self._normalised(rows(), "line")

    # -- parquet -----------------------------------------------------------------------------------------

    def _parquet(self) -> Iterator[Example]:
        import pyarrow.parquet as pq

        name = self.source.name
        with self.source.open() as raw:
            meter = _Meter(raw, self._on_bytes)
            while meter.read(1 << 20):
                pass
            self.report.sha256 = meter.digest.hexdigest()
        self.report.encoding = "parquet"
        with self.source.open() as raw:
            try:
                parquet = pq.ParquetFile(raw)
                batches = parquet.iter_batches(batch_size=1024)

                def rows() -> Iterator[tuple[int, Any]]:
                    number = 0
                    for batch in batches:
                        for row in batch.to_pylist():
                            number += 1
                            yield number, row

                yield from self._normalised(rows(), "row")
            except DataError:
                raise
            except Exception as error:  # pyarrow raises several unrelated types for a bad file
                raise DataError(f"{name}: not a readable parquet file ({str(error).splitlines()[0]})") from None

    # -- records -----------------------------------------------------------------------------------------

    def _normalised(self, records: Iterator[tuple[int, Any]], unit: str) -> Iterator[Example]:
        fmt = None
        self._unit = unit
        for number, record in records:
            where = f"{self.source.name}: {unit} {number}"
            if fmt is None:
                fmt = detect_format(record)
                if fmt is None:
                    keys = ", ".join(record) if isinstance(record, dict) else type(record).__name__
                    raise DataError(f"{where}: cannot tell the record format from keys ({keys}); expected 'text', "
                                    "'instruction'+'output' (Alpaca), 'conversations' (ShareGPT) or 'messages'")
                self.report.format = fmt
            try:
                example = _normalise(record, fmt, where)
            except DataError as error:
                self._bad(number, str(error).removeprefix(where + ": "))
                continue
            self.report.records += 1
            yield example

    def _bad(self, number: int, why: str) -> None:
        if self.on_bad == "fail":
            raise DataError(f"{self.source.name}: {getattr(self, '_unit', 'line')} {number}: {why}")
        self.report.skipped += 1
        if len(self.report.skipped_lines) < _KEPT_BAD_LINES:
            self.report.skipped_lines.append(number)


def example_kind(example: Example) -> str:
    return "text" if "text" in example else "conversations"
