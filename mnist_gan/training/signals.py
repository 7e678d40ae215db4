"""Signals while training: SIGTERM stops the loop (which saves first); a second one waits;
one that arrives during a save waits for the save and what follows it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mnist_gan.runtime import cli

BOTH = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def _handling(handler: Any, signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    """``handler`` for ``signals`` during the block, the previous ones restored after it;
    outside the main thread (where Python cannot set them) nothing changes."""
    try:
        previous = {sig: signal.signal(sig, handler) for sig in signals}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def signals_held() -> Iterator[None]:
    """Ignore SIGTERM and SIGINT for a while: a second signal must not cut the interrupt save."""
    with _handling(signal.SIG_IGN, BOTH):
        yield


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT until the block ends, then deliver the first to its handler.

    A save and the writes that follow it (the run's record, best/) then finish together: cut
    between them, the interrupt's own save finds the step saved and skips them. If the block
    fails, its error goes on and the signal is dropped: the command stops either way, and the
    error (a full disk, say) is what the user must act on.
    """
    arrived: list[int] = []
    with _handling(lambda signum, frame: arrived.append(signum), BOTH):
        yield
    if arrived:
        signal.raise_signal(arrived[0])  # its own handler again: a stop, or nothing if held


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`~mnist_gan.runtime.errors.Interrupted` while training (only
    in the main thread), as :func:`mnist_gan.runtime.cli.interrupt` does for the other commands."""
    with _handling(cli.interrupt, (signal.SIGTERM,)):
        yield
