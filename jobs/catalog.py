"""The one list of models to chat with, compare, benchmark and serve.

It holds the embedded ``default``, base models the user added (a folder or a hub id, kept in
``<workspace>/catalog.json``), merged models exported into ``<workspace>/models/``, the base models past
jobs trained from, every succeeded training job (``job:NAME``: base + its final adapter + its tokenizer)
and each of that job's kept checkpoints (``job:NAME@step-N``). A job name used by several jobs refers
to the newest; the older ones are ``job:NAME#ID``. Names resolve to ``ModelSpec``s with their lineage;
an unknown name or a job whose output folder was deleted is a one-line ``ModelError``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.model_spec import ModelSpec
from core.models import DEFAULT_MODEL, default_model_dir, resolve_model
from core.run_folder import RunFolder
from jobs.models import Job, Status

JOB_PREFIX = "job:"
_JOB_NAME = re.compile(r"^job:(?P<name>[^@#]+)(?:#(?P<id>\d+))?(?:@step-(?P<step>\d+))?$")


def _catalog_file(store) -> Path:
    return store.workspace.root / "catalog.json"


def added_models(store) -> list[str]:
    path = _catalog_file(store)
    return list(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else []


def add_model(store, name: str) -> ModelSpec:
    """Remember a base model folder or hub id; refuses what ``core.models.resolve_model`` refuses."""
    source = resolve_model(name, store.workspace)
    entry = source.path if not source.is_hub else source.name
    known = added_models(store)
    if entry not in known:
        _catalog_file(store).write_text(json.dumps(known + [entry], indent=1), encoding="utf-8")
    return _base_spec(entry, "hub" if source.is_hub else "folder")


def remove_model(store, name: str) -> None:
    known = added_models(store)
    if name not in known:
        raise ModelError(f"{name!r} is not among the added models")
    _catalog_file(store).write_text(json.dumps([k for k in known if k != name], indent=1), encoding="utf-8")


def _base_spec(name: str, kind: str) -> ModelSpec:
    return ModelSpec(name=name, base_model=name, lineage={"kind": kind})


def _hub_cached(store, hub_id: str) -> bool:
    return (store.workspace.hub_cache / ("models--" + hub_id.replace("/", "--"))).is_dir()


def _base_models(store) -> list[ModelSpec]:
    specs = [_base_spec(DEFAULT_MODEL, "default")]
    seen = {DEFAULT_MODEL}
    default_folder = store.workspace.models / "smollm2-135m-instruct"
    exported = sorted(p for p in store.workspace.models.glob("*/config.json") if p.parent.resolve() != default_folder.resolve())
    candidates = [(name, None) for name in added_models(store)]
    candidates += [(str(p.parent), "exported") for p in exported]
    candidates += [(name, None) for name in store.base_models()]
    for name, kind in candidates:
        if name in seen:
            continue
        seen.add(name)
        local = Path(name).expanduser()
        if local.is_dir() and (local / "config.json").is_file():
            specs.append(_base_spec(name, kind or "folder"))
        elif not local.is_absolute() and "/" in name and _hub_cached(store, name):
            specs.append(_base_spec(name, "hub"))
    return specs


def _job_spec(job: Job, label: str, checkpoint: Path | None = None) -> ModelSpec:
    run = RunFolder(Path(job.output_dir))
    lineage: dict[str, Any] = {
        "kind": "checkpoint" if checkpoint else "job", "job_id": job.id, "run": job.name, "run_dir": str(run.path),
        "base_model": job.base_model, "data_files": job.data_files or [], "tokenizer": job.tokenizer_id,
        "stage": (job.config or {}).get("stage"), "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    name = label
    if checkpoint is not None:
        step = int(checkpoint.name.removeprefix("step-"))
        lineage["step"] = step
        name = f"{label}@step-{step}"
    return ModelSpec(name=name, base_model=job.base_model or DEFAULT_MODEL, adapter_dir=str(run.adapter),
                     checkpoint=str(checkpoint) if checkpoint else None, tokenizer_dir=str(run.adapter), lineage=lineage)


def _checkpoints(run: RunFolder) -> list[Path]:
    return sorted(p for p in run.checkpoints.glob("step-*")
                  if not p.name.endswith(".partial") and (p / "adapter_config.json").is_file())


def _trained_jobs(store) -> list[tuple[str, Job]]:
    """Succeeded training jobs with their catalog labels, newest first."""
    jobs = [j for j in store.list_jobs(statuses=[Status.succeeded.value]) if j.kind == "train" and j.output_dir]
    labelled, used = [], set()
    for job in jobs:
        label = f"{JOB_PREFIX}{job.name}" if job.name not in used else f"{JOB_PREFIX}{job.name}#{job.id}"
        used.add(job.name)
        labelled.append((label, job))
    return labelled


def _output_present(job: Job) -> bool:
    return (RunFolder(Path(job.output_dir)).adapter / "adapter_config.json").is_file()


def list_models(store) -> list[ModelSpec]:
    """Every model the workspace can chat with; jobs whose output was deleted are left out."""
    specs = _base_models(store)
    for label, job in _trained_jobs(store):
        if not _output_present(job):
            continue
        specs.append(_job_spec(job, label))
        specs += [_job_spec(job, label, c) for c in _checkpoints(RunFolder(Path(job.output_dir)))]
    return specs


def resolve_model_spec(store, name: str) -> ModelSpec:
    """The spec for a catalog name (or any base model folder / hub id), or a one-line ``ModelError``."""
    name = name.strip()
    if not name.startswith(JOB_PREFIX):
        if name == DEFAULT_MODEL:
            default_model_dir(store.workspace)
            return _base_spec(DEFAULT_MODEL, "default")
        source = resolve_model(name, store.workspace)
        return _base_spec(name, "hub" if source.is_hub else "folder")
    match = _JOB_NAME.match(name)
    if match is None:
        raise ModelError(f"{name!r} is not a model name; expected job:NAME or job:NAME@step-N")
    wanted_id = int(match["id"]) if match["id"] else None
    candidates = [(label, job) for label, job in _trained_jobs(store)
                  if job.name == match["name"] and (wanted_id is None or job.id == wanted_id)]
    if not candidates:
        raise ModelError(f"unknown model {name!r}: no succeeded training job named {match['name']!r} (see 'bailong models list')")
    label, job = candidates[0]
    if not _output_present(job):
        raise ModelError(f"model {name!r}: the output of job {job.id} ({job.output_dir}) was deleted")
    if match["step"] is None:
        return _job_spec(job, label)
    step = int(match["step"])
    checkpoint = RunFolder(Path(job.output_dir)).checkpoint_dir(step)
    if checkpoint not in _checkpoints(RunFolder(Path(job.output_dir))):
        kept = ", ".join(f"step-{int(c.name.removeprefix('step-'))}" for c in _checkpoints(RunFolder(Path(job.output_dir)))) or "none"
        raise ModelError(f"model {name!r}: job {job.id} has no checkpoint at step {step} (kept: {kept})")
    return _job_spec(job, label, checkpoint)
