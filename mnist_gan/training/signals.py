"""Signals while training: SIGTERM stops the loop (which saves first); a second one waits;
one that arrives during a save waits for the save and what follows it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mnist_gan.runtime import cli


@contextmanager
def signals_held() -> Iterator[None]:
    """Ignore SIGTERM and SIGINT for a while: a second signal must not cut the interrupt save."""
    try:
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT until the block ends, then deliver the first to its handler.

    A save and the writes that follow it (the run's record, best/) then finish together: cut
    between them, the interrupt's own save finds the step saved and skips them. If the block
    fails, its error goes on and the signal is dropped: the command stops either way, and the
    error (a full disk, say) is what the user must act on.
    """
    arrived: list[int] = []

    def note(signum: int, frame: object) -> None:
        arrived.append(signum)

    try:
        previous = {sig: signal.signal(sig, note) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if arrived:
        signal.raise_signal(arrived[0])  # its own handler again: a stop, or nothing if held


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`~mnist_gan.runtime.errors.Interrupted` while training (only
    in the main thread), as :func:`mnist_gan.runtime.cli.interrupt` does for the other commands."""
    try:
        previous: Any = signal.signal(signal.SIGTERM, cli.interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
