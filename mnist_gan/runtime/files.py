"""Files a run writes: atomic writes (a crash leaves the old file or the new one, never half of
either), checks that a path can be written before any work, and timestamped log folders."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if e.filename is None:  # a full disk says only "[Errno 28]": name the file
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def check_writable_target(path: str | Path, what: str, folder: bool = False) -> None:
    """Refuse, before any work, an output path that could not be created or written.

    The nearest existing folder on the way gets a probe file (written and removed), so a
    read-only or full disk, or a file in the way, is found before the work starts. With
    ``folder`` the target itself must be a folder (or not exist yet).
    """
    from mnist_gan.runtime.errors import UserError

    target = Path(path)
    if folder and target.exists() and not target.is_dir():
        raise UserError(f"{target} is a file, not a folder; pass another {what}")
    existing = target if target.is_dir() else target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(
            f"{target}: cannot write there ({existing} is a file, not a folder); pass another {what}"
        )
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".write-test-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UserError(f"{target}: cannot write there ({e.strerror or e}); pass another {what}") from e


def check_writable(folder: str | Path, what: str) -> None:
    """Create ``folder`` and prove it writable now, before any training time is spent."""
    from mnist_gan.runtime.errors import UserError

    path = Path(folder)
    if path.exists() and not path.is_dir():  # as check_writable_target says it
        raise UserError(f"{path} is a file, not a folder; pass another {what}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UserError(f"{path}: cannot write there ({e.strerror or e}); pass another {what}") from e


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
