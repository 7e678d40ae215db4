"""The errors a user can cause or meet, apart from bugs: each becomes one line and an exit code.

Kept free of TensorFlow so the scripts can report them (and answer --help) quickly.
"""

from __future__ import annotations

import re
import signal


def first_line(error: BaseException, most: int = 200) -> str:
    """The first line of what ``error`` says (TensorFlow's run on for pages), at most ``most``
    characters; its type's name if it says nothing."""
    lines = str(error).strip().splitlines()
    return lines[0][:most] if lines else type(error).__name__


# What the OS says when a write fails, somewhere in TensorFlow's message of many lines.
_OS_REASONS = re.compile(
    r"No space left on device|Disk quota exceeded|Read-only file system|Permission denied|File too large"
)


def os_reason(error: Exception) -> str | None:
    """The OS's reason for a failed write, if TensorFlow's message names one (its first line
    runs on for hundreds of characters before it does)."""
    found = _OS_REASONS.search(str(error))
    return found.group(0) if found else None


class UserError(Exception):
    """Bad input: a file, flag, config or checkpoint that cannot be used as given (exit 2)."""


class DataError(UserError, ValueError):
    """A dataset is missing, unreadable or not in a layout we know."""


class IdxError(DataError):
    """A dataset file is missing, malformed or inconsistent."""


class ConfigError(UserError, ValueError):
    """A configuration file or value is invalid."""


class CheckpointError(UserError, RuntimeError):
    """A checkpoint is missing, damaged or belongs to a different model."""


class DistributionError(UserError, ValueError):
    """The requested distribution or batch split cannot be set up."""


class TrainingDiverged(RuntimeError):
    """A loss or a weight became NaN or infinite; nothing was saved from that point on (exit 3)."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) arrived: the command stops (training saves first), exit 128 + N."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
