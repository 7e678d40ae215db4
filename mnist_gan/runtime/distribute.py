"""Choosing the tf.distribute strategy, and splitting the CPU into logical replicas.

The steps, the weight average and the batch norms use only the generic ``strategy.run`` /
``strategy.reduce`` / cross-replica API, so they run under any strategy. A new one is made in
:func:`make_strategy` (and named in ``configs.STRATEGIES``, which the flags check); the
multi-worker specifics (who is the chief, where workers save) are the ``isinstance`` checks
of :func:`describe`, :func:`is_chief` and :func:`save_dir_for`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from mnist_gan.runtime.errors import DistributionError, first_line


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


def _check_cluster(cluster: Any, task: Any) -> None:
    """What TensorFlow would refuse with a traceback: jobs that are not lists of addresses, a
    task of a job the strategy does not run or the cluster lacks, an index past its job."""
    jobs = ("chief", "worker")  # MultiWorkerMirroredStrategy's (no parameter servers)
    if not isinstance(cluster, dict) or not all(
        isinstance(v, list) and all(isinstance(a, str) for a in v) for v in cluster.values()
    ):
        raise DistributionError("TF_CONFIG's cluster must map each job to a list of 'host:port' addresses")
    kind, index = task["type"], task["index"]
    if len(cluster.get("chief", [])) > 1:
        raise DistributionError(
            f"TF_CONFIG's cluster has {len(cluster['chief'])} chief addresses; it takes one at most"
        )
    if kind not in jobs or kind not in cluster:
        raise DistributionError(
            f"TF_CONFIG's task type {kind!r} is not one of this cluster's jobs that "
            f"--strategy multiworker runs ({', '.join(j for j in jobs if j in cluster) or 'none'})"
        )
    if set(cluster) - set(jobs):
        raise DistributionError(
            f"TF_CONFIG's cluster has jobs --strategy multiworker does not run "
            f"({', '.join(sorted(set(cluster) - set(jobs)))}); it runs chief and worker tasks"
        )
    # TensorFlow reads the index with int(): "1" is an index, True is not.
    if (
        isinstance(index, bool)
        or not str(index).strip().isdecimal()
        or not 0 <= int(index) < len(cluster[kind])
    ):
        raise DistributionError(
            f"TF_CONFIG's task index {index!r} is not one of the {len(cluster[kind])} {kind} "
            f"addresses (0 to {len(cluster[kind]) - 1})"
        )


def _multi_worker(timeout_seconds: float) -> tf.distribute.Strategy:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise DistributionError(
            "--strategy multiworker needs the TF_CONFIG environment variable (cluster and task); "
            "see README.md, or try scripts/local_cluster.sh on one machine"
        )
    try:
        spec = json.loads(raw)
        spec["cluster"], spec["task"]["type"], spec["task"]["index"]
    except (ValueError, KeyError, TypeError) as e:
        raise DistributionError(f"TF_CONFIG is not valid ({e!r}); it needs 'cluster' and 'task'") from e
    _check_cluster(spec["cluster"], spec["task"])
    # Collectives give up after the timeout, so a dead worker stops the others with an error
    # instead of leaving them waiting forever.
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_seconds)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def make_strategy(name: str, cpu_replicas: int = 0, timeout_seconds: float = 300.0) -> tf.distribute.Strategy:
    """The strategy for ``name`` ('auto', 'mirrored', 'default' or 'multiworker').

    ``cpu_replicas >= 2`` mirrors over that many logical CPU devices, so multi-replica code
    runs (and is tested) without GPUs. 'auto' mirrors over all GPUs when there are any.
    'multiworker' reads TF_CONFIG; call this before any other TensorFlow op.
    """
    if cpu_replicas < 0:
        raise DistributionError(f"cpu_replicas must be >= 0, got {cpu_replicas}")
    if name == "multiworker":
        if cpu_replicas >= 2:
            raise DistributionError("--cpu-replicas does not combine with --strategy multiworker")
        return _multi_worker(timeout_seconds)
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


def check_batch(global_batch: int, strategy: tf.distribute.Strategy, available: int, what: str) -> int:
    """Return the per-replica batch; refuse a global batch the replicas cannot share, or one
    larger than the ``available`` examples (``what`` names them)."""
    replicas = strategy.num_replicas_in_sync
    if global_batch < 1:
        raise DistributionError(f"batch size must be >= 1, got {global_batch}; pass --batch-size 1 or more")
    if global_batch % replicas:
        raise DistributionError(
            f"batch size {global_batch} does not divide by the {replicas} replicas; "
            f"use a multiple of {replicas}, e.g. {replicas * max(1, global_batch // replicas)}"
        )
    if global_batch > available:
        raise DistributionError(
            f"batch size {global_batch} exceeds the {available} {what}; pass --batch-size {available} or less"
        )
    return global_batch // replicas


def check_groups(per_replica: int, group: int, flag: str) -> None:
    """Refuse groups of ``group`` samples (0: none) that the batch per replica cannot form."""
    if group and per_replica % group:
        raise DistributionError(
            f"the batch per replica ({per_replica}) does not divide into groups of {group} "
            f"({flag}); use a group that divides it, or a batch size that does"
        )


def check_pairs(per_replica: int, replicas: int, flag: str) -> None:
    """Refuse an odd batch per replica where ``flag`` (0 turns it off) pairs its neighbours:
    a pair split between two replicas would make the update depend on their number."""
    if per_replica % 2:
        even = 2 * replicas * max(1, per_replica // 2)
        raise DistributionError(
            f"{flag} pairs the digits of each replica's batch, which holds {per_replica}; "
            f"use a batch size of an even number per replica, e.g. --batch-size {even}, or {flag} 0 "
            "to train without it"
        )


def describe(strategy: tf.distribute.Strategy) -> str:
    """A one-line description for the console."""
    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        resolver = strategy.cluster_resolver
        role = "chief" if is_chief(strategy) else "not chief"
        return (
            f"MultiWorkerMirroredStrategy, {replicas} replicas in all; this is "
            f"{resolver.task_type} {resolver.task_id} ({role})"
        )
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        devices = ", ".join(strategy.extended.worker_devices)
        return f"MirroredStrategy, {replicas} replica{'s' if replicas != 1 else ''}: {devices}"
    device = "the GPU" if tf.config.list_logical_devices("GPU") else "the CPU"
    return f"one replica on {device} (no distribution; --cpu-replicas 2 or more GPUs mirror)"


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the real checkpoints, logs and pictures."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (not has_chief and task_type == "worker" and task_id == 0)


def save_dir_for(strategy: tf.distribute.Strategy, save_dir: str | Path) -> Path:
    """``save_dir`` on the chief; a private temporary folder on other workers.

    Every worker must take part in saving (the save itself is collective), but only the
    chief's copy is kept: the others' go to folders :func:`cleanup` removes.
    """
    if is_chief(strategy):
        return Path(save_dir)
    resolver = strategy.cluster_resolver
    return Path(tempfile.mkdtemp(prefix=f"mnist-gan-{resolver.task_type}-{resolver.task_id}-"))


def cleanup(strategy: tf.distribute.Strategy, folder: Path) -> None:
    """Remove a non-chief worker's temporary save folder."""
    if not is_chief(strategy):
        shutil.rmtree(folder, ignore_errors=True)


def distribute_dataset(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset) -> Iterator[Any]:
    """An iterator over ``dataset``'s global batches split across every replica of every worker.

    The data lives in memory, so there are no files to shard by: DATA sharding makes each
    worker keep its own slice of every global batch, and the slices together are exactly
    the batch a single process would see.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return iter(strategy.experimental_distribute_dataset(dataset.with_options(options)))


@contextmanager
def collective_errors() -> Iterator[None]:
    """Turn a collective that failed (a worker died or timed out) into one clear error."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError) as e:
        raise DistributionError(
            f"lost contact with another worker ({type(e).__name__}: {first_line(e)}); restart every worker "
            "with the same command to resume from the chief's last checkpoint"
        ) from e


def fingerprint(models: list[Any]) -> str:
    """A short hash of every weight: equal on every worker of a healthy multi-worker run, and
    for the same weights in any process (``weights``, not ``variables``: a Dropout layer's
    random-number state is a variable, and starts anew in each process)."""
    import hashlib

    digest = hashlib.sha256()
    for model in models:
        for variable in model.weights:
            digest.update(np.asarray(variable.value).tobytes())
    return digest.hexdigest()[:16]
