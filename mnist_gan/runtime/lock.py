"""One run per checkpoint folder: a lock file naming its holder (process id, host, start time).

The lock is a small YAML file made visible with ``os.link``, which fails if the name exists,
so two runs starting at once cannot both win, even on a shared disk. A lock whose process
is gone (same host, no such process id) is taken over; one held on another host cannot be
checked from here and is reported with its holder.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from mnist_gan.runtime.errors import CheckpointError
from mnist_gan.runtime.files import timestamp

LOCK_NAME = "run.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds a folder's lock."""

    pid: int
    host: str
    started: str

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}, started {self.started}"


def _read(path: Path) -> Holder | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["started"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError):
        # Written whole through a link, so unreadable means someone else's file: keep out.
        return Holder(-1, "unknown host", "unknown time")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _try_create(path: Path, me: Holder) -> bool:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump({"pid": me.pid, "host": me.host, "started": me.started}, f)
        os.link(tmp, path)
        return True
    except (FileExistsError, FileNotFoundError):  # taken, or our temp file swept by its holder
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


class FolderLock:
    """The lock of one checkpoint folder, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.me = Holder(os.getpid(), socket.gethostname(), timestamp())
        self.held = False

    def acquire(self) -> str | None:
        """Take the lock; return a note if a dead holder's lock was taken over.

        Raises :class:`CheckpointError` naming the holder if another live run has it.
        """
        note = None
        for _ in range(2):
            if _try_create(self.path, self.me):
                self.held = True
                return note
            holder = _read(self.path)
            if holder is None:  # released meanwhile
                continue
            if holder.host == self.me.host and holder.pid > 0 and not _alive(holder.pid):
                note = f"note: took over the lock of {holder.describe()}, which is no longer running"
                self.path.unlink(missing_ok=True)
                continue
            raise CheckpointError(
                f"{self.path.parent} is in use by another run ({holder.describe()}); wait for it to "
                f"end or pass another --save-dir (if that run is gone, delete {self.path})"
            )
        holder = _read(self.path) or Holder(-1, "unknown host", "unknown time")
        raise CheckpointError(f"{self.path.parent} is in use by another run ({holder.describe()})")

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        if self.held and _read(self.path) == self.me:
            self.path.unlink(missing_ok=True)
        self.held = False
