"""Range checks of config values, run once when a config is built.

Types are checked by :mod:`mnist_gan.runtime.config`; this adds what a type cannot say:
floats must be finite, integers must fit (TensorFlow counts steps in int64, NumPy seeds in
uint32), and each value must lie in the range its config class declares (``RANGES``), so a
bad value stops the run before anything is written instead of as a traceback or a NaN
much later.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

INT64_MAX = 2**63 - 1
SEED_MAX = 2**32 - 1

# (lowest, highest, lowest allowed itself?[, highest allowed itself?]); None: unbounded on
# that side. The highest is allowed unless a fourth value says not (Adam's betas, dropout,
# the average's decay and the test share stay below 1).
Range = tuple[float | None, float | None, bool] | tuple[float | None, float | None, bool, bool]
# The fewest digits a generator is scored with: covariances (FID) and k-NN (precision and
# recall) need a few.
MIN_EVAL_SAMPLES = 20
# Every config's seed feeds NumPy, whose seeds are uint32.
COMMON: dict[str, Range] = {"seed": (0, SEED_MAX, True)}


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def check_step(step: str) -> None:
    """Refuse a ``--step`` that is not newest, best or a step number."""
    from mnist_gan.runtime.errors import ConfigError

    if not re.fullmatch(r"newest|best|0*\d{1,18}", step, re.ASCII):  # 050 is 50, as ckpt-050 would be
        raise ConfigError(f"step must be newest, best or a step number, got {step!r}")


def check_value(name: str, value: Any, limits: Range | None) -> None:
    """Refuse ``value`` if it is not finite, does not fit in 64 bits or lies outside ``limits``."""
    from mnist_gan.runtime.errors import ConfigError

    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value}")
    if isinstance(value, int) and abs(value) > INT64_MAX:
        raise ConfigError(f"{name} is too large ({value:.3g}); it must fit in 64 bits")
    if limits is None:
        return
    low, high, low_ok, *rest = limits
    high_ok = rest[0] if rest else True
    if low is not None and (value < low or (value == low and not low_ok)):
        raise ConfigError(f"{name} must be {'>=' if low_ok else '>'} {_fmt(low)}, got {value}")
    if high is not None and (value > high or (value == high and not high_ok)):
        raise ConfigError(f"{name} must be {'<=' if high_ok else '<'} {_fmt(high)}, got {value}")


def check(cfg: Any, ranges: dict[str, Range]) -> None:
    """Refuse the first value of the dataclass ``cfg`` that breaks :func:`check_value`."""
    ranges = {**COMMON, **ranges}
    for f in dataclasses.fields(cfg):
        check_value(f.name, getattr(cfg, f.name), ranges.get(f.name))
