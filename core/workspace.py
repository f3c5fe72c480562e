"""The workspace: the one folder Bailong Studio writes to.

It is chosen by ``--home``, else ``BAILONG_HOME``, else ``~/.bailong-studio``, and holds the job database,
imported corpora, the model cache and one folder per run. Hub downloads are pointed at the model cache
too, so nothing lands elsewhere on the user's disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.config import RunConfig


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def database(self) -> Path:
        return self.root / "studio.db"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def hub_cache(self) -> Path:
        return self.models / "hub"

    @property
    def corpora(self) -> Path:
        return self.root / "corpora"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run_dir(self, config: RunConfig) -> Path:
        if config.output_dir:
            return Path(config.output_dir).expanduser().resolve()
        return self.runs / config.name

    def ensure(self) -> "Workspace":
        for folder in (self.root, self.models, self.corpora, self.runs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def resolve_home(home: str | os.PathLike[str] | None = None) -> Workspace:
    """The workspace from an explicit folder, ``BAILONG_HOME``, or the per-user default."""
    chosen = home or os.environ.get("BAILONG_HOME") or Path.home() / ".bailong-studio"
    return Workspace(Path(chosen).expanduser().resolve()).ensure()
