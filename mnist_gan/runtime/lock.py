"""One run per checkpoint folder: a lock file naming its holder (process id, host, start time).

The lock is a small YAML file made visible with ``os.link``, which fails if the name exists,
so two runs starting at once cannot both win, even on a shared disk. Its holder also keeps a
kernel lock (``flock``) on the file for as long as it runs; the kernel drops it when the
process dies, however it dies. A lock file left by a dead process (same host, no such process
id, and no kernel lock on it) is taken over by whoever gets its kernel lock first, so several
runs restarted at once after a crash cannot all take it over. One held on another host cannot
be checked from here and is reported with its holder.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import time
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

    def text(self) -> str:
        return yaml.safe_dump({"pid": self.pid, "host": self.host, "started": self.started})


_NOBODY = Holder(-1, "unknown host", "unknown time")


def _read(path: Path) -> Holder:
    """Who the lock file names; no one (process -1, unknown host) if it is gone or unreadable."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["started"]))
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError):
        # Written whole through a link, or rewritten under the kernel lock by a run taking it
        # over: unreadable means someone else's file, or one being taken over. Keep out.
        return _NOBODY


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _kernel_lock(fd: int) -> bool:
    """Take the kernel lock without waiting; False if another process holds it. Where the
    file system has no such locks (some network file systems), True: the process id alone
    then decides whether a holder is gone."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # not supported here
        return True
    return True


def _try_create(path: Path, me: Holder) -> int | None:
    """A new lock file, already under our kernel lock when it appears; its descriptor, or None."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.write(fd, me.text().encode("utf-8"))
        _kernel_lock(fd)  # our own new file: nobody else can hold it yet
        os.link(tmp, path)
        return fd
    except (FileExistsError, FileNotFoundError):  # taken, or our temp file swept by its holder
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)


def _try_take_over(path: Path, me: Holder) -> tuple[int, Holder] | None:
    """The existing lock file under our kernel lock if its holder is gone from this host.

    Returns its descriptor and the holder it named, now rewritten to name us; None if it
    vanished meanwhile or is another file now (retry), and raises if a live run holds it.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    except PermissionError:  # another user's lock: not ours to take over
        raise _in_use(path, _read(path)) from None
    try:
        if not _kernel_lock(fd):
            raise _in_use(path, _settled_holder(path, me.host))
        try:
            same_file = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if not same_file:  # released and removed between our open and our lock
            os.close(fd)
            return None
        holder = _read(path)
        # A kernel lock free but a live process named: a file written without one (another
        # tool, or a process id reused since); the process id is all there is to go on.
        if holder.host != me.host or holder.pid <= 0 or _alive(holder.pid):
            raise _in_use(path, holder)
    except BaseException:
        os.close(fd)
        raise
    try:
        # Written over, then cut to length: the file is never empty, only briefly mixed.
        text = me.text().encode("utf-8")
        os.pwrite(fd, text, 0)
        os.ftruncate(fd, len(text))
        os.fsync(fd)
    except BaseException:
        # Half rewritten, the file would name nobody and keep every later run out: removed
        # (under our kernel lock, so no other run is rewriting it), the next run starts anew.
        path.unlink(missing_ok=True)
        os.close(fd)
        raise
    return fd, holder


def _settled_holder(path: Path, host: str) -> Holder:
    """The holder named in a file under someone's kernel lock, given a moment to be rewritten.

    Another run taking over a dead holder's lock rewrites the file just after locking it; read
    too early, the file names the dead process as the one in the way, or (mid-write) no one.
    """
    holder = _read(path)
    for _ in range(20):
        named = holder.pid > 0  # a file being rewritten reads as no one
        if named and (holder.host != host or _alive(holder.pid)):
            break
        time.sleep(0.05)
        holder = _read(path)
    return holder


def _in_use(path: Path, holder: Holder) -> CheckpointError:
    return CheckpointError(
        f"{path.parent} is in use by another run ({holder.describe()}); wait for it to end or "
        f"pass another --save-dir (if that run is gone, delete {path})"
    )


class FolderLock:
    """The lock of one checkpoint folder, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.me = Holder(os.getpid(), socket.gethostname(), timestamp())
        self._fd: int | None = None

    def acquire(self) -> str | None:
        """Take the lock; return a note if a dead holder's lock was taken over.

        Raises :class:`CheckpointError` naming the holder if another live run has it.
        """
        for _ in range(5):  # a retry only when the file changed hands under us
            self._fd = _try_create(self.path, self.me)
            if self._fd is not None:
                return None
            taken = _try_take_over(self.path, self.me)
            if taken is not None:
                self._fd, dead = taken
                return f"note: took over the lock of {dead.describe()}, which is no longer running"
        raise _in_use(self.path, _read(self.path))

    def release(self) -> None:
        """Remove the lock if this process still holds it."""
        if self._fd is None:
            return
        # Removed before the kernel lock is dropped: whoever was waiting on this file then
        # finds it gone and makes a new one.
        if _read(self.path) == self.me:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None
