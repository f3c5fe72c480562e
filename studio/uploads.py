"""Files the browser sends: names made safe and copied into the workspace, never written elsewhere."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

from core.errors import DataError
from core.workspace import Workspace

_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def safe_name(name: str) -> str:
    """A file name with no folders, no leading dots and only word characters, '.', '-' (CJK kept)."""
    base = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    cleaned = _UNSAFE.sub("_", base).lstrip(".-_")[:120]
    if not cleaned or cleaned in (".", ".."):
        raise DataError(f"cannot use the file name {name!r}; rename the file")
    return cleaned


def uploads_dir(workspace: Workspace) -> Path:
    return workspace.corpora / "uploads"


def store_upload(workspace: Workspace, temp_path: str | Path, original_name: str | None = None) -> Path:
    """Copy an uploaded file into ``<home>/corpora/uploads/`` under a sanitised, non-clobbering name."""
    folder = uploads_dir(workspace)
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(original_name or Path(temp_path).name)
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    shutil.copyfile(temp_path, target)
    return target


def add_uploads(workspace: Workspace, files: list | None, current: str | None) -> str:
    """A one-path-a-line file list with the browser's uploads added (copied into the workspace first)."""
    paths = []
    for f in files or []:
        temp = f if isinstance(f, str) else f.name
        paths.append(str(store_upload(workspace, temp, Path(temp).name)))
    existing = [line for line in (current or "").splitlines() if line.strip()]
    return "\n".join(dict.fromkeys(existing + paths))


def config_file(workspace: Workspace, name: str) -> Path:
    folder = workspace.root / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{safe_name(name)}.yaml"
