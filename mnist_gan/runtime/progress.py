"""Progress on stderr: a live bar on a terminal, whole lines now and then in a log file.

tqdm redraws its bar with carriage returns. In a file (``train.py ... 2> train.log``, a
batch job, the benchmarks' logs) those redraws pile up into one line of megabytes that no
pager or ``grep`` reads. Off a terminal the same calls print a plain line at most every
``every`` seconds instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Protocol, TextIO

from tqdm import tqdm

LINE_EVERY_SECONDS = 30.0


class Progress(Protocol):
    """The part of tqdm's interface the loops use."""

    def update(self, n: float | None = 1) -> bool | None: ...

    def set_postfix(
        self, ordered_dict: Mapping[str, object] | None = None, refresh: bool | None = True
    ) -> None: ...

    def set_description_str(self, desc: str | None = None, refresh: bool | None = True) -> None: ...

    def write(self, s: str, file: TextIO | None = None) -> None: ...

    def close(self) -> None: ...


def on_terminal() -> bool:
    """Whether stderr, where progress goes, is a terminal that can redraw a line."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class LineProgress:
    """tqdm's counts and postfix as plain lines, for a stream that is not a terminal."""

    def __init__(
        self,
        total: int,
        initial: int = 0,
        desc: str = "",
        unit: str = "it",
        disable: bool = False,
        every: float = LINE_EVERY_SECONDS,
        file: TextIO | None = None,
    ) -> None:
        self.total, self.n, self.desc, self.unit = total, initial, desc, unit
        self.disable, self.every = disable, every
        self.file = file
        self.postfix: dict[str, object] = {}
        self.last, self.printed = time.monotonic(), initial

    def update(self, n: float | None = 1) -> bool | None:
        self.n += int(n or 0)
        if time.monotonic() - self.last >= self.every:
            self._line()
        return None

    def set_postfix(
        self, ordered_dict: Mapping[str, object] | None = None, refresh: bool | None = True
    ) -> None:
        self.postfix = dict(ordered_dict or {})

    def set_description_str(self, desc: str | None = None, refresh: bool | None = True) -> None:
        self.desc = desc or ""
        if not self.disable:
            print(self.desc, file=self.file or sys.stderr, flush=True)

    def write(self, s: str, file: TextIO | None = None) -> None:
        print(s, file=file or sys.stdout, flush=True)

    def close(self) -> None:
        # Only a finished count: a run stopped early says itself where it stopped, and a
        # last line with time left would read as if it were still going.
        if self.n != self.printed and self.n >= self.total:
            self._line()

    def _line(self) -> None:
        now = time.monotonic()
        # The rate since the last line: the speed now, not one that start-up still drags down.
        elapsed, done = now - self.last, self.n - self.printed
        self.last, self.printed = now, self.n
        if self.disable:
            return
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.desc}: {self.n}/{self.total} {self.unit}s"]
        if self.total:
            parts[0] += f" ({self.n / self.total:.0%})"
        if rate > 0:
            parts.append(f"{rate:.3g} {self.unit}/s")
            if self.n < self.total:
                parts.append(f"{(self.total - self.n) / rate / 60:.1f} min left")
        line = ", ".join(parts)
        if self.postfix:
            line += "; " + ", ".join(f"{k} {v}" for k, v in self.postfix.items())
        print(line, file=self.file or sys.stderr, flush=True)


def bar(total: int, initial: int = 0, desc: str = "", unit: str = "it", disable: bool = False) -> Progress:
    """A tqdm bar on stderr when it is a terminal, otherwise a :class:`LineProgress`."""
    if on_terminal():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, disable=disable)
    return LineProgress(total, initial, desc, unit, disable)


def status(desc: str) -> Progress:
    """A line of status text (no counts): redrawn in place on a terminal, otherwise each new
    text printed on a line of its own."""
    if on_terminal():
        return tqdm(desc=desc, bar_format="{desc}")
    return LineProgress(0, desc=desc)
