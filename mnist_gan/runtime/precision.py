"""Which floating-point policy a run computes in; ``auto`` picks it from the hardware.

Variables stay float32 under every policy (Keras' mixed policies), so checkpoints do not
depend on the precision they were trained in, except float16's, which also hold its loss
scale (a run goes on in float16 only if it began in it: :func:`mnist_gan.runtime.record.compare`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

MODES = ("auto", "off", "float16", "bfloat16")
POLICIES = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}
# CPU flags of native bfloat16 arithmetic: x86 AVX512-BF16 / AMX-BF16, Arm's BF16 extension.
# Without them bfloat16 is converted in software: expected slower than float32, not faster.
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags this CPU reports (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(errors="replace")
        except OSError:
            return set()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86, Arm
            flags.update(value.split())
    return flags


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The native-bfloat16 flags this CPU reports (Linux ``/proc/cpuinfo``; [] elsewhere)."""
    flags = cpu_flags(cpuinfo)
    return [f for f in BF16_FLAGS if f in flags]


def resolve(mode: str, *, gpus: int | None = None, cpuinfo: str | None = None) -> tuple[str, str]:
    """The concrete mode (off, float16 or bfloat16) that ``mode`` means here, and why.

    ``auto`` is bfloat16 on a CPU-only machine whose CPU computes bfloat16 natively (a
    faster step than float32's for the same FID: README, Mixed precision) and float32
    everywhere else. On GPUs it stays float32: float16 is the usual GPU choice, but its
    effect on this GAN's quality has not been measured, so it is left to be asked for.
    """
    if mode not in MODES:
        raise ValueError(f"unknown precision {mode!r}; choose from {', '.join(MODES)}")
    if mode != "auto":
        return mode, "as asked"
    if gpus is None:
        import tensorflow as tf

        gpus = len(tf.config.list_physical_devices("GPU"))
    if gpus:
        return "off", "auto: float32 on GPUs; --mixed-precision float16 to try tensor cores"
    flags = cpu_bf16_flags(cpuinfo)
    if flags:
        return "bfloat16", f"auto: this CPU has native bfloat16 ({', '.join(flags)})"
    return "off", "auto: this CPU has no native bfloat16 (software bfloat16 would be slower)"


@contextlib.contextmanager
def policy(mode: str) -> Iterator[None]:
    """Models built inside compute in a concrete ``mode``; Keras' global policy is restored after.

    Keras keeps the policy as process-wide state: restoring it keeps a bfloat16 GAN from
    turning a classifier built later in the same process into a bfloat16 one.
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICIES[mode])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def describe(mode: str) -> str:
    """One line for a run's log: the precision ``mode`` resolves to here, and why."""
    concrete, why = resolve(mode)
    return f"precision: {POLICIES[concrete]}; {why}"
