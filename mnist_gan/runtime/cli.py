"""What every front-end script shares: each known error as one line and an exit status."""

from __future__ import annotations

import io
import os
import re
import signal
import sys
from collections.abc import Callable
from typing import TextIO

# The real stdout while :func:`hold_output` holds what is printed.
_real_stdout: list[TextIO] = []


def hold_output() -> None:
    """Keep what is printed to stdout until :func:`release_output`, so that a user error
    found before then is the only line the command prints (training reads its data before it
    can check the run folder against it)."""
    if not _real_stdout:
        _real_stdout.append(sys.stdout)
        sys.stdout = io.StringIO()


def release_output() -> None:
    """Print what was held, in order, and print directly from now on."""
    if _real_stdout:
        held, sys.stdout = sys.stdout, _real_stdout.pop()
        sys.stdout.write(held.getvalue() if isinstance(held, io.StringIO) else "")
        sys.stdout.flush()


def _drop_output() -> None:
    """Forget what was held: the lines that led up to a user error say nothing it does not."""
    if _real_stdout:
        sys.stdout = _real_stdout.pop()


class _ReaderMayLeave(io.TextIOBase):
    """An output stream that outlives its reader: once it cannot be written (a pipe's reader
    has gone, ``| head -1``; a full disk; a descriptor opened for reading), what is printed
    goes to /dev/null and the command finishes its work and its files, where the error would
    have stopped it before them. Any other loss than a reader leaving is said once on stderr."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream, self._name = stream, name

    def _gone(self, error: OSError) -> None:
        # The descriptor itself, so the buffered rest flushed at exit goes nowhere quietly too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)
        if not isinstance(error, BrokenPipeError) and self._name == "stdout":
            lost = f"warning: cannot write to stdout ({error.strerror}); the command goes on without it"
            print(lost, file=sys.stderr)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as e:
            self._gone(e)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as e:
            self._gone(e)

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding


def _outputs() -> None:
    """Line-buffered stdout and stderr that survive their readers, or /dev/null on their own
    descriptors where the command started without them (``>&-``, ``2>&-``)."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None:
            # On descriptor 1 or 2 itself: the lowest free one may be 0, and TensorFlow's
            # quieting duplicates descriptor 2.
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
            setattr(sys, name, open(fd, "w", closefd=False))  # noqa: SIM115 - for the life of the process
        elif isinstance(stream, io.TextIOWrapper):
            # Each line as soon as it is printed, into a pipe too (tee, a log file): in step
            # with the progress bar on stderr instead of glued to it later, kept on a crash.
            stream.reconfigure(line_buffering=True)
            setattr(sys, name, _ReaderMayLeave(stream, name))


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: progress lines end, what is open is closed, one line says why."""
    from mnist_gan.runtime.errors import Interrupted

    raise Interrupted(signum)


def _mute_tensorflow_logs() -> None:
    """No TensorFlow warnings after an error line (e.g. the dozens of unrestored values a
    refused checkpoint lists when its objects are deleted at exit)."""
    import logging

    logging.getLogger("tensorflow").setLevel(logging.CRITICAL)


# What to do about each kind of exhaustion, after the line that names it.
_LESS_AT_ONCE = "ask for less at once (a smaller --batch-size, --eval-samples or --count)"
_FREE_IT = "free what it names and run the same command again"


def _exhausted(error: Exception) -> str | None:
    """What ran out and what to do, in one line, if ``error`` is Python's or TensorFlow's
    out-of-memory, or another resource TensorFlow ran out of (a full disk, say)."""
    if isinstance(error, MemoryError):
        return f"out of memory; {_LESS_AT_ONCE}"
    from mnist_gan.runtime.errors import first_line, os_reason

    tf = sys.modules.get("tensorflow")  # never imported here for this: light tools lack it
    if tf is None or not isinstance(error, tf.errors.ResourceExhaustedError):
        return None
    said, reason = first_line(error, 160), os_reason(error)
    if reason and reason not in said:  # past where the line is cut: the part worth reading
        said = f"{said}...: {reason}"
    if re.search(r"\bOOM\b|memory", said, re.IGNORECASE):
        return f"TensorFlow ran out of memory ({said}); {_LESS_AT_ONCE}"
    return f"TensorFlow ran out of a resource ({said}); {_FREE_IT}"


_checkpointed: list[bool] = []


def note_checkpoint() -> None:
    """The run has a checkpoint to resume from now (restored or saved): an interrupt's line
    says to resume, which before then would start the run over."""
    _checkpointed.append(True)


_finished: list[str] = []


def note_finished(what: str) -> None:
    """The run's training is over and saved (``what`` says which step, e.g. 'step 50 is
    saved and scored'): an interrupt from now on, during the run's last pictures and lines,
    says so, as the same command again would have nothing to resume."""
    _finished.append(what)


def note_training() -> None:
    """Training (again) under way: an interrupt now cuts it short, whatever ended before."""
    _finished.clear()


def _interrupted(signum: int) -> str:
    """The interrupt's line: what the same command again would do."""
    line = f"interrupted ({signal.Signals(signum).name})"
    if _finished:
        return (
            f"{line} as the run was ending: {_finished[-1]}, so there is nothing to resume; "
            "only what it was writing after that (its last pictures or lines) may be missing"
        )
    if _checkpointed:
        return f"{line}; run the same command again to resume from the last checkpoint"
    return line


def run(main: Callable[[], int], hold: bool = False) -> None:
    """Run ``main``; known errors become one line on stderr and an exit status.

    2: bad input (file, flag, config, checkpoint, or an OS error such as a read-only
    folder), or more asked of memory (or of another resource TensorFlow names) than there
    is; 3: training diverged; 128 + N: stopped by signal N (training saves first). With
    ``hold``, stdout is held until ``main`` calls :func:`release_output` (or ends): a bad
    input found before then prints its error line alone. An interrupt's line says to resume
    once :func:`note_checkpoint` was called, and that nothing is left to once
    :func:`note_finished` was.
    """
    from mnist_gan.runtime.errors import TrainingDiverged, UserError

    _outputs()
    # Training also saves before it stops (training/signals.py); before and after its loop
    # (loading data, writing the run's record or its pictures) SIGTERM is a stop like Ctrl-C.
    signal.signal(signal.SIGTERM, interrupt)
    if hold:
        hold_output()
    try:
        sys.exit(main())
    except (UserError, OSError) as e:
        _drop_output()
        _mute_tensorflow_logs()
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except TrainingDiverged as e:
        release_output()
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
    except Exception as e:
        said = _exhausted(e)
        if said is None:
            raise
        release_output()  # the progress so far stays: it says how far the work got
        _mute_tensorflow_logs()
        print(f"error: {said}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as e:
        release_output()
        signum = getattr(e, "signum", signal.SIGINT)
        print(_interrupted(signum), file=sys.stderr)
        sys.exit(128 + signum)
    finally:
        release_output()  # a crash's traceback after the lines that led up to it
