"""The allowed range of every numeric config value, checked once when a config is built.

Types are checked by :mod:`mnist_gan.config`; this adds what a type cannot say: floats
must be finite, integers must fit (TensorFlow counts steps in int64, NumPy seeds in
uint32), and each value must lie in its range, so a bad value stops the run before
anything is written instead of as a traceback or a NaN much later.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

INT64_MAX = 2**63 - 1
SEED_MAX = 2**32 - 1

# key -> (lowest, highest, lowest allowed itself?); None: unbounded on that side.
_Range = tuple[float | None, float | None, bool]
_COMMON: dict[str, _Range] = {
    "seed": (0, SEED_MAX, True),
    "cpu_replicas": (0, 1024, True),
    "collective_timeout": (0, None, False),
    "keep_checkpoints": (1, 10_000, True),
}
RANGES: dict[str, dict[str, _Range]] = {
    "ClassifierConfig": {
        "epochs": (1, 1_000_000, True),
        "learning_rate": (0, None, False),
        "dropout": (0, 1, True),
        "width": (1, 4096, True),
        "feature_dim": (1, 65536, True),
    },
    "GanConfig": {
        "noise_dim": (1, 65536, True),
        "gen_width": (1, 4096, True),
        "critic_width": (1, 4096, True),
        "steps": (1, 2**53, True),
        "epochs": (0, 1_000_000, True),
        "crit_steps": (1, 1000, True),
        "gp_weight": (0, None, True),
        "gen_lr": (0, None, False),
        "critic_lr": (0, None, False),
        "beta_1": (0, 1, True),
        "beta_2": (0, 1, True),
        "ema_decay": (0, 1, True),
        "steps_per_call": (1, 2**31 - 1, True),
        "save_every": (0, INT64_MAX, True),
        "eval_every": (0, INT64_MAX, True),
        "eval_samples": (1, 10_000_000, True),
    },
    "GenerateConfig": {
        "count": (1, 1_000_000, True),
        "interpolation_frames": (2, 10_000, True),
    },
    "EvaluateConfig": {
        "eval_samples": (0, 10_000_000, True),
        "cas_epochs": (1, 10_000, True),
    },
}
# Keys whose upper bound is excluded (Adam's betas, dropout and the average's decay stay below 1).
_BELOW = frozenset({"beta_1", "beta_2", "dropout", "ema_decay"})


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def check(cfg: Any, source: str) -> None:
    """Refuse the first value of ``cfg`` that is not finite, does not fit or is out of range."""
    from mnist_gan.errors import ConfigError

    step = getattr(cfg, "step", None)
    if isinstance(step, str) and not re.fullmatch(r"newest|best|0|[1-9]\d{0,17}", step):
        raise ConfigError(f"{source}: step must be newest, best or a step number, got {step!r}")

    ranges = {**_COMMON, **RANGES.get(type(cfg).__name__, {})}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{source}: {f.name} must be a finite number, got {value}")
        if isinstance(value, int) and abs(value) > INT64_MAX:
            raise ConfigError(f"{source}: {f.name} is too large ({value:.3g}); it must fit in 64 bits")
        if f.name not in ranges:
            continue
        low, high, low_ok = ranges[f.name]
        if low is not None and (value < low or (value == low and not low_ok)):
            bound = ">=" if low_ok else ">"
            raise ConfigError(f"{source}: {f.name} must be {bound} {_fmt(low)}, got {value}")
        if high is not None and (value > high or (value == high and f.name in _BELOW)):
            bound = "<" if f.name in _BELOW else "<="
            raise ConfigError(f"{source}: {f.name} must be {bound} {_fmt(high)}, got {value}")
