"""The ``corpora`` table: a searchable listing of the corpus folders in the workspace.

The folders (``core.corpus_store``) are the truth and training reads only them; a row is written after
a corpus is published and removed after its folder is, and ``sync`` repairs the listing when the two
disagree (a folder copied in by hand, a row whose folder was deleted outside the studio). Imports for the
CLI and for corpus jobs both go through ``import_corpus`` so they register identically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from sqlalchemy import delete, select

from core import corpus_store
from core.corpus_build import build_corpus
from jobs.models import Corpus


def _row_values(manifest: dict[str, Any], folder: Path) -> dict[str, Any]:
    stats = dict(manifest.get("stats") or {})
    stats["counts"] = manifest.get("counts", {})
    return {"kind": manifest["kind"], "path": str(folder), "sha256": manifest["sha256"],
            "source_files": manifest.get("source_files", []), "pipeline": manifest.get("pipeline", {}),
            "rows": manifest["rows"], "chars": manifest["chars"], "stats": stats}


def register(store, manifest: dict[str, Any], job_id: int | None = None) -> Corpus:
    """Add (or refresh) the row of a published corpus."""
    folder = corpus_store.corpus_dir(store.workspace.corpora, manifest["name"])
    with store.db.write() as session, session.begin():
        row = session.scalar(select(Corpus).where(Corpus.name == manifest["name"]))
        if row is None:
            row = Corpus(name=manifest["name"], job_id=job_id)
            session.add(row)
        for key, value in _row_values(manifest, folder).items():
            setattr(row, key, value)
    return row


def sync(store) -> None:
    """Make the rows match the folders: add missing ones, drop those whose folder is gone."""
    manifests = {m["name"]: m for m in corpus_store.list_corpora(store.workspace.corpora)}
    with store.db.read() as session:
        known = set(session.scalars(select(Corpus.name)))
    for name in manifests.keys() - known:
        register(store, manifests[name])
    gone = known - manifests.keys()
    if gone:
        with store.db.write() as session, session.begin():
            session.execute(delete(Corpus).where(Corpus.name.in_(gone)))


def list_corpora(store, text: str | None = None) -> list[Corpus]:
    sync(store)
    query = select(Corpus).order_by(Corpus.name)
    if text:
        query = query.where(Corpus.name.ilike(f"%{text}%"))
    with store.db.read() as session:
        return list(session.scalars(query))


def get(store, name: str) -> Corpus:
    corpus_store.load_manifest(store.workspace.corpora, name)  # one-line error naming the known corpora
    sync(store)
    with store.db.read() as session:
        return session.scalar(select(Corpus).where(Corpus.name == name))


def rename(store, old: str, new: str) -> None:
    corpus_store.rename_corpus(store.workspace.corpora, old, new)
    with store.db.write() as session, session.begin():
        row = session.scalar(select(Corpus).where(Corpus.name == old))
        if row is not None:
            row.name = new
            row.path = str(corpus_store.corpus_dir(store.workspace.corpora, new))
    sync(store)


def delete_corpus(store, name: str) -> None:
    corpus_store.delete_corpus(store.workspace.corpora, name)
    with store.db.write() as session, session.begin():
        session.execute(delete(Corpus).where(Corpus.name == name))


def stats_tokenizer(store, name: str | None):
    """The base model tokenizer the statistics count tokens with; None skips token counts."""
    if not name or name == "none":
        return None
    from core.models import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model(name, store.workspace), store.workspace)


def import_corpus(store, paths: list[str | Path], name: str, pipeline: dict[str, Any] | None = None, *,
                  on_bad: str = "skip", tokenizer: str | None = None, job_id: int | None = None,
                  progress: Callable[[int, int, str], None] | None = None,
                  should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any] | None:
    """Build corpus ``name`` from files and register it; None when stopped (nothing kept)."""
    corpus_store.check_name(name)
    corpus_store.require_new(store.workspace.corpora, name)  # before loading a tokenizer for nothing
    manifest = build_corpus([Path(p) for p in paths], name, store.workspace.corpora, pipeline, on_bad=on_bad,
                            tokenizer=stats_tokenizer(store, tokenizer), progress=progress, should_stop=should_stop)
    if manifest is not None:
        register(store, manifest, job_id)
    return manifest


def summary_line(manifest: dict[str, Any]) -> str:
    counts = manifest.get("counts", {})
    dropped = sum(v for k, v in counts.items() if k.startswith("dropped_"))
    return (f"corpus {manifest['name']}: {manifest['rows']:,} {manifest['kind']} rows, {manifest['chars']:,} chars "
            f"({dropped:,} of {counts.get('input_rows', 0):,} input rows dropped)")
