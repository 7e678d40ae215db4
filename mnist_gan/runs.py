"""Where a run writes: its ISO-8601 timestamped log folder and the copies of its config."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from mnist_gan import config as config_lib
from mnist_gan.errors import CheckpointError


def timestamp(now: dt.datetime | None = None) -> str:
    """UTC time in ISO-8601 basic format, e.g. 20261123T121530Z (safe in any file system)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def new_log_dir(root: str | Path) -> Path:
    """Create and return ``root/<timestamp>``; a second run in the same second gets ``-2``."""
    base = Path(root) / timestamp()
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def check_writable(*folders: str | Path) -> None:
    """Create each folder and prove it writable now, before any training time is spent."""
    for folder in folders:
        path = Path(folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise CheckpointError(
                f"{path}: cannot write there ({e.strerror or e}); pass another folder"
            ) from e


def check_writable_later(folder: str | Path) -> None:
    """Prove ``folder`` could be created and written, without creating it (a probe file in
    its nearest existing ancestor is written and removed)."""
    path = Path(folder)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CheckpointError(f"{path}: cannot write there ({existing} is not a folder); pass another folder")
    try:
        probe = existing / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot write there ({e.strerror or e}); pass another folder") from e


def save_config(cfg: config_lib.Config, filename: str, *folders: Path) -> list[Path]:
    """Write ``cfg`` as ``filename`` into every folder (atomically); return the paths."""
    paths = [Path(folder) / filename for folder in folders]
    for path in paths:
        config_lib.save(cfg, path)
    return paths
