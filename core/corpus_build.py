"""Turning uploads into a named corpus: read → clean → deduplicate → write → describe, all streamed.

``build_corpus`` is the one recipe the CLI, the job worker and the benchmark run. Pass one streams every
source through the cleaner in batches, drops exact repeats on the fly and writes the survivors to a
parquet file in a staging folder; with near-duplicate removal on, it also keeps each row's MinHash
signature and a second pass copies only the rows that are not near repeats of an earlier one. Statistics
are gathered on the final rows. Only a complete corpus is renamed into place, so a failure or a cancel
leaves nothing behind. ``preview`` runs the same steps on the first rows for an instant look.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from core import corpus_store as store
from core.corpus_clean import Cleaner, Pipeline, example_text
from core.corpus_import import SourceReader, example_kind, expand_sources
from core.corpus_stats import CorpusStats
from core.dedup import ExactDeduper, near_duplicates, signatures
from core.errors import DataError
from core.script_detect import SCRIPTS

BATCH = 512
KEPT_DIFFS = 8
DIFF_CHARS = 300

Example = dict[str, Any]
Progress = Callable[[int, int, str], None]


class _Run:
    """State of one build: counters, the kind seen so far, sample before/after pairs."""

    def __init__(self, pipeline: Pipeline, on_bad: str) -> None:
        self.pipeline, self.on_bad = pipeline, on_bad
        self.cleaner = Cleaner(pipeline)
        self.exact = ExactDeduper() if pipeline.dedup != "none" else None
        self.kind: str | None = None
        self.input_rows = 0
        self.diffs: list[dict[str, str]] = []
        self.reports: list[dict[str, Any]] = []

    def clean(self, batch: list[Example]) -> Iterator[tuple[Example, dict[str, int]]]:
        """Kept examples of a batch, each with its script counts."""
        outcomes = self.cleaner.clean_batch(batch)
        scripts = iter(self.cleaner.last_scripts)
        for raw, cleaned in zip(batch, outcomes):
            self.input_rows += 1
            kind = example_kind(raw)
            if self.kind is None:
                self.kind = kind
            elif kind != self.kind:
                raise DataError(f"the sources mix plain text and conversations ({self.kind} first, then {kind}); "
                                "import them as separate corpora")
            if cleaned is None:
                continue
            counts = next(scripts)
            if self.exact is not None and self.exact.seen(example_text(cleaned)):
                self.cleaner.counts["dropped_exact_duplicate"] += 1
                continue
            if cleaned != raw and len(self.diffs) < KEPT_DIFFS:
                self.diffs.append({"before": example_text(raw)[:DIFF_CHARS], "after": example_text(cleaned)[:DIFF_CHARS]})
            yield cleaned, counts


def _batches(readers: list[SourceReader], size: int) -> Iterator[list[Example]]:
    batch: list[Example] = []
    for reader in readers:
        for example in reader:
            batch.append(example)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def build_corpus(
    paths: list[Path], name: str, corpora_root: Path, pipeline: Pipeline | dict | None = None, *,
    on_bad: str = "skip", tokenizer: Any = None, progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any] | None:
    """Build and publish corpus ``name``; returns its manifest, or None when stopped (nothing is kept)."""
    pipeline = pipeline if isinstance(pipeline, Pipeline) else Pipeline.parse(pipeline)
    store.check_name(name)
    store.require_new(corpora_root, name)
    staging = store.staging_dir(corpora_root, name)
    try:
        manifest = _build(paths, name, staging, pipeline, on_bad, tokenizer, progress or (lambda *a: None), should_stop)
        if manifest is None:
            store.discard(staging)
            return None
        store.publish(staging, corpora_root, name, manifest)
        return manifest
    except BaseException:
        store.discard(staging)
        raise


def _build(paths, name, staging: Path, pipeline: Pipeline, on_bad, tokenizer, progress: Progress,
           should_stop) -> dict[str, Any] | None:
    run = _Run(pipeline, on_bad)
    near = pipeline.dedup == "near"
    stats = CorpusStats()
    read = [0]
    with ExitStack() as stack:
        sources = expand_sources(paths, stack)
        total = max(1, sum(s.size for s in sources))
        readers = [SourceReader(s, on_bad, on_bytes=lambda n: read.__setitem__(0, read[0] + n)) for s in sources]
        first_pass = staging / ("pass1.parquet" if near else store.DATA_FILE)
        writer: store.ParquetRows | None = None
        sigs: list[np.ndarray] = []
        scripts: list[np.ndarray] = []  # per-row script counts, for statistics after the second pass
        for batch in _batches(readers, BATCH):
            if should_stop():
                if writer:
                    writer.close()
                return None
            kept = list(run.clean(batch))
            if kept and writer is None:
                writer = store.ParquetRows(first_pass, run.kind or "text")
            for example, counts in kept:
                writer.add(example)
                if not near:
                    stats.add(example, counts)
            if near and kept:
                sigs.append(signatures([example_text(e) for e, _ in kept]))
                scripts.append(np.array([[c[k] for k in SCRIPTS] for _, c in kept], dtype=np.int64))
            progress(min(read[0], total), total, f"{read[0] / 1e6:.1f} MB read, {run.input_rows} rows")
        run.reports = [r.report.as_dict() for r in readers]
        if writer is None:
            raise DataError(f"nothing left after cleaning {run.input_rows} rows ({_drops(run.cleaner.counts)})")
        writer.close()
    if near:
        if should_stop():
            return None
        progress(total, total, "removing near duplicates")
        _second_pass(staging, run, np.concatenate(sigs), np.concatenate(scripts), stats)
    counts = dict(run.cleaner.counts)
    counts["input_rows"] = run.input_rows
    summary = stats.summary(tokenizer)
    summary["diffs"] = run.diffs
    data = staging / store.DATA_FILE
    return {
        "name": name, "kind": run.kind, "rows": stats.documents, "chars": stats.chars,
        "sha256": store.file_digest(data), "bytes": data.stat().st_size,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_files": run.reports, "pipeline": pipeline.model_dump(), "bad_records": on_bad,
        "counts": counts, "stats": summary, "format_version": 1,
    }


def _second_pass(staging: Path, run: _Run, sigs: np.ndarray, scripts: np.ndarray, stats: CorpusStats) -> None:
    import pyarrow.parquet as pq

    duplicate = near_duplicates(sigs, run.pipeline.near_threshold)
    run.cleaner.counts["dropped_near_duplicate"] += int(duplicate.sum())
    first = staging / "pass1.parquet"
    writer = store.ParquetRows(staging / store.DATA_FILE, run.kind or "text")
    row = 0
    for batch in pq.ParquetFile(first).iter_batches(batch_size=4096):
        for example in batch.to_pylist():
            if not duplicate[row]:
                writer.add(example)
                stats.add(example, dict(zip(SCRIPTS, scripts[row].tolist())))
            row += 1
    writer.close()
    first.unlink()


def _drops(counts) -> str:
    return ", ".join(f"{k.removeprefix('dropped_')}: {v}" for k, v in sorted(counts.items()) if k.startswith("dropped_")) or "no rows"


def preview(paths: list[Path], pipeline: Pipeline | dict | None = None, *, limit: int = 200,
            on_bad: str = "skip") -> dict[str, Any]:
    """The pipeline on the first ``limit`` rows: before/after pairs, counts and statistics, nothing written."""
    pipeline = pipeline if isinstance(pipeline, Pipeline) else Pipeline.parse(pipeline)
    run = _Run(pipeline, on_bad)
    stats = CorpusStats()
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        readers = [SourceReader(s, on_bad) for s in expand_sources(paths, stack)]
        raw: list[Example] = []
        for batch in _batches(readers, BATCH):
            raw.extend(batch[: limit - len(raw)])
            if len(raw) >= limit:
                break
    # Clean one row at a time so every input row is paired with its outcome (None: dropped).
    kept: list[Example] = []
    for example in raw:
        out = [cleaned for cleaned, _ in run.clean([example])]
        rows.append({"before": example_text(example), "after": example_text(out[0]) if out else None})
        kept.extend(out)
    if pipeline.dedup == "near" and kept:
        duplicate = near_duplicates(signatures([example_text(e) for e in kept]), pipeline.near_threshold)
        run.cleaner.counts["dropped_near_duplicate"] += int(duplicate.sum())
        kept = [e for e, d in zip(kept, duplicate) if not d]
    for example in kept:
        stats.add(example)
    counts = dict(run.cleaner.counts)
    counts["input_rows"] = run.input_rows
    return {"kind": run.kind, "rows": rows, "counts": counts, "stats": stats.summary()}
