"""Checkpoints: resume, restore for inference, and refusing ones from another architecture.

A checkpoint folder holds TF checkpoints plus the YAML config of the run that wrote them;
the YAML says which architecture the weights belong to, so a mismatch is reported by key
instead of as a shape error deep inside TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf

from mnist_gan.runtime import config as config_lib
from mnist_gan.runtime.errors import CheckpointError


def saved_config(folder: str | Path, filename: str) -> dict[str, Any] | None:
    """The config saved beside the checkpoints (without its run record), or None."""
    from mnist_gan.runtime import record

    found = record.read(folder, filename)
    return found[0] if found is not None else None


# The file name prefix of every checkpoint: ckpt-<step>.index and its data files.
CHECKPOINT_NAME = "ckpt"


def manager(checkpoint: tf.train.Checkpoint, folder: str | Path, keep: int) -> tf.train.CheckpointManager:
    """The rotation of ``keep`` checkpoints named ``ckpt-<step>`` in ``folder``."""
    return tf.train.CheckpointManager(
        checkpoint, str(folder), max_to_keep=keep, checkpoint_name=CHECKPOINT_NAME
    )


def path_at(manager: tf.train.CheckpointManager, step: int) -> str:
    """Where ``manager`` writes (or wrote) the checkpoint of ``step``."""
    return str(Path(manager.directory) / f"{CHECKPOINT_NAME}-{step}")


def restore(checkpoint: tf.train.Checkpoint, path: str, *, partial: bool = False) -> None:
    """Restore ``path`` into ``checkpoint``, turning TF's errors into a :class:`CheckpointError`.

    With ``partial`` the checkpoint may hold more than ``checkpoint`` asks for (e.g. the
    generator alone out of a training checkpoint).
    """
    status = None
    try:
        status = checkpoint.restore(path)
        if partial:
            status.expect_partial()
        status.assert_existing_objects_matched()
    # A truncated file surfaces as IndexError from the reader, a mismatch as ValueError.
    except (ValueError, AssertionError, IndexError, tf.errors.OpError) as e:
        if status is not None:
            # Otherwise TensorFlow lists every unmatched value (dozens of lines) at exit,
            # after the one-line error.
            status.expect_partial()
        raise CheckpointError(
            f"{path}: cannot restore ({str(e).splitlines()[0][:300]}); it was written by a "
            "different model or is damaged"
        ) from e


def restore_newest_good(
    checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager
) -> tuple[str | None, list[str]]:
    """Restore the newest checkpoint that reads; return it and the damaged ones skipped.

    A checkpoint cut short by a crash or a full disk is passed over for the one before it,
    so a run never stays stuck on a damaged file.
    """
    skipped: list[str] = []
    for path in reversed(manager.checkpoints):
        try:
            restore(checkpoint, path)
            return path, skipped
        except CheckpointError:
            skipped.append(path)
    if skipped:
        raise CheckpointError(
            f"{manager.directory}: no checkpoint could be read ({', '.join(skipped)}); "
            "move the folder aside (or pass another --save-dir) to start afresh"
        )
    return None, skipped


BEST_DIR = "best"


def latest(folder: str | Path, step: int | str | None = None) -> str | None:
    """The newest checkpoint in ``folder``, the one at ``step``, or with ``step='best'`` the
    best by FID kept in ``folder/best``; None if there is none."""
    if step in (None, 0, "0", "newest", ""):
        return tf.train.latest_checkpoint(str(folder))
    if step == "best":
        best = tf.train.latest_checkpoint(str(Path(folder) / BEST_DIR))
        if best is None and tf.train.latest_checkpoint(str(folder)) is not None:
            raise CheckpointError(
                f"{folder}: no best checkpoint kept (it is kept when training scores FID: "
                "train with a classifier, not --no-eval); pass --step newest"
            )
        return best
    step = int(step)
    state = tf.train.get_checkpoint_state(str(folder))
    paths = list(state.all_model_checkpoint_paths) if state else []
    for path in paths:
        if path.rsplit("-", 1)[-1] == str(step):
            return path
    available = ", ".join(p.rsplit("-", 1)[-1] for p in paths) or "none"
    raise CheckpointError(f"{folder}: no checkpoint at step {step} (steps saved: {available})")


def holds_object(path: str, name: str) -> bool:
    """Whether the checkpoint at ``path`` has an object ``name`` at its root; True if unreadable.

    (An unreadable checkpoint is left to :func:`restore`, which reports it.)
    """
    try:
        keys = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError):
        return True
    return any(k.startswith(name + "/") for k in keys)


def best_score(folder: str | Path) -> float | None:
    """The FID of the best checkpoint kept in ``folder/best``, or None."""
    path = Path(folder) / BEST_DIR / "best.yaml"
    if not path.is_file():
        return None
    return float(config_lib.load_yaml(path)["fid"])


def keep_best(folder: str | Path, checkpoint_path: str, step: int, fid: float) -> Path:
    """Copy the checkpoint at ``checkpoint_path`` into ``folder/best`` as the best one.

    The copy is separate from the rotation (``--keep-checkpoints`` never deletes it). Each
    file is copied atomically and the state file is rewritten last, so a crash leaves the
    previous best readable.
    """
    import shutil

    from mnist_gan.runtime.files import atomic_write_text

    best = Path(folder) / BEST_DIR
    best.mkdir(exist_ok=True)
    source = Path(checkpoint_path)
    for f in source.parent.glob(source.name + ".*"):
        tmp = best / f".{f.name}.tmp"
        shutil.copyfile(f, tmp)
        tmp.replace(best / f.name)
    name = source.name
    atomic_write_text(
        best / "checkpoint", f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'
    )
    atomic_write_text(best / "best.yaml", f"step: {step}\nfid: {fid!r}\n")
    for f in best.glob("ckpt-*"):
        if not f.name.startswith(name + "."):
            f.unlink()
    return best
