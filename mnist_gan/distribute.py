"""Choosing the tf.distribute strategy, and splitting the CPU into logical replicas.

Swapping the strategy touches only this file: every step is written against the generic
``strategy.run`` / ``strategy.reduce`` API.
"""

from __future__ import annotations

import tensorflow as tf

from mnist_gan.errors import DistributionError


def split_cpu(replicas: int) -> list[str]:
    """Split the first CPU into ``replicas`` logical devices; return their names.

    Must run before TensorFlow initialises its devices (before any op), as TF allows.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as e:
        current = tf.config.get_logical_device_configuration(cpu) or []
        if len(current) != replicas:
            raise DistributionError(
                f"cannot split the CPU into {replicas} devices after TensorFlow started "
                f"(it has {max(len(current), 1)}); create the strategy first"
            ) from e
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def make_strategy(name: str, cpu_replicas: int = 0) -> tf.distribute.Strategy:
    """The strategy for ``name`` ('auto', 'mirrored' or 'default').

    ``cpu_replicas >= 2`` mirrors over that many logical CPU devices, so multi-replica code
    runs (and is tested) without GPUs. 'auto' mirrors over all GPUs when there are any.
    """
    if cpu_replicas < 0:
        raise DistributionError(f"cpu_replicas must be >= 0, got {cpu_replicas}")
    if cpu_replicas >= 2:
        if name == "default":
            raise DistributionError("--cpu-replicas needs a mirrored strategy, not 'default'")
        devices = split_cpu(cpu_replicas)
        # NCCL is GPU-only; on CPU devices reduce through one device instead.
        return tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    gpus = tf.config.list_physical_devices("GPU")
    if name == "mirrored" or (name == "auto" and gpus):
        # On GPUs MirroredStrategy picks NCCL all-reduce by default.
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def check_global_batch(global_batch: int, strategy: tf.distribute.Strategy) -> int:
    """Return the per-replica batch; refuse a global batch the replicas cannot share."""
    replicas = strategy.num_replicas_in_sync
    if global_batch < 1:
        raise DistributionError(f"batch size must be >= 1, got {global_batch}")
    if global_batch % replicas:
        raise DistributionError(
            f"batch size {global_batch} does not divide by the {replicas} replicas; "
            f"use a multiple of {replicas}, e.g. {replicas * max(1, global_batch // replicas)}"
        )
    return global_batch // replicas


def describe(strategy: tf.distribute.Strategy) -> str:
    """A one-line description for the console."""
    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        devices = ", ".join(strategy.extended.worker_devices)
        return f"MirroredStrategy, {replicas} replicas: {devices}"
    return f"{type(strategy).__name__}, {replicas} replica on the default device"
