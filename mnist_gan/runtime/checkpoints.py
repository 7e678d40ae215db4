"""Checkpoints on disk: finding them (with or without TF's state file), restoring them
(skipping damaged ones), repairing the state file, and the best one kept apart in ``best/``.

Whether a run may resume a folder at all (its data, architecture, settings) is decided
before, from the YAML record beside the checkpoints: :mod:`mnist_gan.runtime.record`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf

# The proto of TF's state file: public API reads it only through functions that log a
# warning per damaged file and return None, and writes it only through CheckpointManager.
from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

from mnist_gan.runtime import config as config_lib
from mnist_gan.runtime.errors import CheckpointError, ConfigError, first_line


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
    if _files_gone(path):
        raise CheckpointError(f"{path}: its files are gone (the folder's checkpoint list still names it)")
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
            f"{path}: cannot restore ({first_line(e, 300)}); it was written by a "
            "different model or is damaged"
        ) from e


def _files_gone(path: str) -> bool:
    """Whether no file of the checkpoint ``path`` is left (its state file may still list it)."""
    return not any(Path(path).parent.glob(Path(path).name + ".*"))


def step_of(path: str | Path) -> int | None:
    """The step of ``ckpt-<step>`` (a path or name, with or without a suffix), else None."""
    tail = Path(path).name.split(".", 1)[0][len(CHECKPOINT_NAME) + 1 :]
    digits = tail.isascii() and tail.isdecimal()  # not '²', which isdigit() takes and int() refuses
    return int(tail) if Path(path).name.startswith(CHECKPOINT_NAME + "-") and digits else None


def _state(folder: Path) -> Any:
    """TF's state file of ``folder`` parsed, or None if it is missing or unreadable (quietly:
    TensorFlow would log a warning for each attempt to parse a damaged one)."""
    from google.protobuf import text_format

    path = folder / "checkpoint"
    if not path.is_file():
        return None
    state = CheckpointState()
    try:
        text_format.Merge(path.read_text(encoding="utf-8"), state)
    except (text_format.ParseError, UnicodeDecodeError):
        return None
    return state


def found(folder: str | Path) -> list[str]:
    """Every checkpoint of ``folder``, oldest step first: those TF's state file lists (even
    with a file missing: restoring says so) and every ``ckpt-<step>.index`` it does not list.
    A state file lost, damaged or behind must not hide a checkpoint: TensorFlow, trusting
    it alone, would start a run afresh over the checkpoints it no longer sees."""
    folder = Path(folder)
    steps: dict[int, str] = {}
    state = _state(folder)
    for listed in list(state.all_model_checkpoint_paths) if state is not None else []:
        step = step_of(listed)
        if step is not None:
            steps[step] = str(folder / Path(listed).name)
    for index in folder.glob(f"{CHECKPOINT_NAME}-*.index"):
        step = step_of(index)
        if step is not None:
            steps.setdefault(step, str(folder / index.name.removesuffix(".index")))
    return [steps[step] for step in sorted(steps)]


def rewrite_state(folder: str | Path, drop: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Make TF's state file of ``folder`` list every checkpoint :func:`found` finds but those
    in ``drop`` (set aside as damaged); return the steps it lacked (it was missing, damaged
    or behind). Written only when the list changes.

    The rotation of ``--keep-checkpoints`` deletes only what the state file lists, and
    resumes from what it lists: rewritten, both see every checkpoint again.
    """
    from google.protobuf import text_format

    from mnist_gan.runtime.files import atomic_write_text

    folder = Path(folder)
    state = _state(folder)
    listed = [Path(p).name for p in state.all_model_checkpoint_paths] if state is not None else []
    # Each listed checkpoint keeps its timestamp, the others take their index file's: with
    # fewer timestamps than checkpoints TF would keep them all for ever, out of the rotation.
    stamps = list(state.all_model_checkpoint_timestamps) if state is not None else []
    times = dict(zip(listed, stamps, strict=False))
    dropped = {Path(p).name for p in drop}
    names = [Path(p).name for p in found(folder) if Path(p).name not in dropped]
    if names == listed:
        return []
    if not names:
        (folder / "checkpoint").unlink(missing_ok=True)
        return []
    lacking = [str(step_of(name)) for name in names if name not in listed]
    rebuilt = CheckpointState(model_checkpoint_path=names[-1])
    for name in names:
        index = folder / f"{name}.index"
        rebuilt.all_model_checkpoint_paths.append(name)
        rebuilt.all_model_checkpoint_timestamps.append(
            times.get(name, index.stat().st_mtime if index.is_file() else 0.0)
        )
    atomic_write_text(folder / "checkpoint", text_format.MessageToString(rebuilt))
    return lacking


def restore_newest_good(checkpoint: tf.train.Checkpoint, folder: str | Path) -> tuple[str | None, list[str]]:
    """Restore the newest checkpoint of ``folder`` that reads; return it and the damaged ones skipped.

    A checkpoint cut short by a crash or a full disk is passed over for the one before it,
    so a run never stays stuck on a damaged file.
    """
    skipped: list[str] = []
    newest_reason = ""
    for path in reversed(found(folder)):
        try:
            restore(checkpoint, path)
            return path, skipped
        except CheckpointError as e:
            newest_reason = newest_reason or str(e)
            skipped.append(path)
    if skipped:
        # Every one refused: more likely another model (a config file lost or replaced) than
        # every file damaged; the newest's reason says which. With every file gone, no
        # settings would read them.
        settings = "" if all(map(_files_gone, skipped)) else "resume with the settings that wrote them, or "
        raise CheckpointError(
            f"{folder}: no checkpoint could be read ({', '.join(skipped)}); the newest: {newest_reason}; "
            f"{settings}move the folder aside (or pass another --save-dir) to start afresh"
        )
    return None, skipped


BEST_DIR = "best"


def _intact(path: str) -> str:
    """``path`` if its index file is there, else a :class:`CheckpointError` naming it."""
    if not Path(path + ".index").is_file():
        raise CheckpointError(
            f"{path}.index is missing: that checkpoint is damaged; move {Path(path).name}.* "
            "aside to use the one before it"
        )
    return path


def _best(folder: Path) -> list[str]:
    """The best checkpoint kept in ``folder`` (a list of one, or none). :func:`keep_best`
    writes the state file last, so it names the copy that is complete even when a crash
    left the next one half-copied beside it; without a state file, what :func:`found` finds."""
    state = _state(folder)
    if state is not None and step_of(state.model_checkpoint_path) is not None:
        return [str(folder / Path(state.model_checkpoint_path).name)]
    return found(folder)[-1:]


def latest(folder: str | Path, step: int | str | None = None) -> str | None:
    """The newest checkpoint in ``folder``, the one at ``step``, or with ``step='best'`` the
    best by FID kept in ``folder/best``; None if there is none. One found but damaged (its
    index file missing) is a :class:`CheckpointError` naming it."""
    every = found(folder)
    if isinstance(step, str) and step.isascii() and step.isdecimal():
        step = int(step)  # '050' is step 50, '00' the newest as '0' is
    if step in (None, 0, "newest", ""):
        return _intact(every[-1]) if every else None
    if step == "best":
        best = _best(Path(folder) / BEST_DIR)
        if not best and every:
            raise CheckpointError(
                f"{folder}: no best checkpoint kept (it is kept when training scores FID: "
                "train with a classifier, not --no-eval); pass --step newest"
            )
        return _intact(best[-1]) if best else None
    for path in every:
        if step_of(path) == int(step):
            return _intact(path)
    available = ", ".join(str(step_of(p)) for p in every) or "none"
    raise CheckpointError(f"{folder}: no checkpoint at step {int(step)} (steps saved: {available})")


def holds_object(path: str, name: str) -> bool:
    """Whether the checkpoint at ``path`` has an object ``name`` at its root; True if unreadable.

    (An unreadable checkpoint is left to :func:`restore`, which reports it.)
    """
    try:
        keys = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError):
        return True
    return any(k.startswith(name + "/") for k in keys)


def _kept_best(folder: str | Path) -> tuple[float, Any, int] | None:
    """The FID, scoring and step that ``folder/best/best.yaml`` records, or None if there is
    none, it is damaged, or it speaks of another step than the checkpoint kept (a crash
    between the two writes of :func:`keep_best`): a record that does not match is not trusted."""
    path = Path(folder) / BEST_DIR / "best.yaml"
    if not path.is_file():
        return None
    try:
        kept = config_lib.load_yaml(path)
    except ConfigError:  # damaged: as untrustworthy as a mismatched one
        return None
    named = _best(path.parent)
    at, fid = step_of(named[0]) if named else None, kept.get("fid")
    if at is None or at != kept.get("step") or not isinstance(fid, int | float) or isinstance(fid, bool):
        return None
    return float(fid), kept.get("scoring"), at


def best_score(folder: str | Path, scoring: str) -> float | None:
    """The FID of the best checkpoint kept in ``folder/best`` (see :func:`_kept_best`), or None
    if there is none to trust or it was scored another way than ``scoring`` says (its FID
    would not compare with new ones)."""
    kept = _kept_best(folder)
    if kept is None or (kept[1] != scoring and not _before_test_digits(kept[1], scoring)):
        return None
    return kept[0]


def best_read_otherwise(folder: str | Path, scoring: str) -> str | None:
    """A note when ``folder/best`` holds a best whose FID was read another way than
    ``scoring`` (another classifier, sample size or test digits): the first score of this run
    replaces it, however much worse, as the two FIDs do not compare. None otherwise, and for
    a run that scores nothing (``scoring`` empty: --no-eval), which leaves the best alone."""
    kept = _kept_best(folder) if scoring else None
    if kept is None or not isinstance(kept[1], str):
        return None
    fid, recorded, step = kept
    if recorded == scoring or _before_test_digits(recorded, scoring):
        return None
    theirs, ours = _scoring_parts(recorded), _scoring_parts(scoring)
    names = {
        "digits": "another number of digits",
        "classifier": "another classifier",
        "test": "other test digits",
    }
    differ = [names[k] for k in names if theirs.get(k) != ours.get(k) and theirs.get(k) is not None]
    how = f"read with {' and '.join(differ)} than" if differ else "read another way than"
    return (
        f"{Path(folder) / BEST_DIR} holds step {step} (FID {fid:.4g}), {how} this run's "
        "scores: they do not compare, so this run's first score replaces it, better or not"
    )


def _scoring_parts(scoring: str) -> dict[str, str]:
    """A best's scoring (:meth:`GeneratorScorer.scoring`) -> its sample size, classifier, test digits."""
    import re

    parts = {}
    if match := re.match(r"(\d+) digits", scoring):
        parts["digits"] = match[1]
    if match := re.search(r"classifier (\w+)", scoring):
        parts["classifier"] = match[1]
    if TEST_DIGITS in scoring:
        parts["test"] = scoring.split(TEST_DIGITS, 1)[1]
    return parts


# Where a best's scoring names the test digits its FID was read against.
TEST_DIGITS = "; test digits "


def _before_test_digits(recorded: Any, scoring: str) -> bool:
    """Whether ``recorded`` is ``scoring`` as it was written before it named the test digits
    (until 2026-12-07): such a best still compares, its run's test digits taken as unchanged,
    as they were then."""
    return (
        isinstance(recorded, str)
        and TEST_DIGITS not in recorded
        and scoring.startswith(recorded + TEST_DIGITS)
    )


def keep_best(folder: str | Path, checkpoint_path: str, step: int, fid: float, scoring: str) -> Path:
    """Copy the checkpoint at ``checkpoint_path`` into ``folder/best`` as the best one.

    The copy is separate from the rotation (``--keep-checkpoints`` never deletes it). Each
    file is copied under a hidden name first and the state file is rewritten last, so a
    crash leaves the previous best readable (or, in the few renames that replace a copy of
    the same name, no best at all: never a mix). ``scoring`` says how the FID was read
    (:func:`best_score`).
    """
    import json
    import shutil

    from mnist_gan.runtime.files import atomic_write_text

    best = Path(folder) / BEST_DIR
    best.mkdir(exist_ok=True)
    source = Path(checkpoint_path)
    name = source.name
    index_last = sorted(source.parent.glob(name + ".*"), key=lambda f: f.suffix == ".index")
    # The slow part, the copies, first and under hidden names: a crash here leaves the
    # previous best as it was.
    staged = []
    try:
        for f in index_last:
            tmp = best / f".{f.name}.tmp"
            staged.append((tmp, best / f.name))
            shutil.copyfile(f, tmp)
    except OSError as e:  # a full disk: no half-made copy left, the checkpoint itself is safe
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"{best}: cannot copy {name} there as the best so far ({e.strerror or e}); {checkpoint_path} "
            "itself is saved; free some space (or fix the permissions) and run the same command again"
        ) from e
    if _best(best) == [str(best / name)]:
        # The kept best has this name (its step scored again): renamed over file by file, a
        # crash would leave a mix of old and new that its record still vouches for. The
        # record goes first, so such a crash leaves no best rather than a wrong one.
        for f in (best / "checkpoint", best / "best.yaml"):
            f.unlink(missing_ok=True)
    # Old files of this name, the index first: a checkpoint is found by its index, so one
    # half made or half removed is never seen.
    for f in sorted(best.glob(name + ".*"), key=lambda f: f.suffix != ".index"):
        f.unlink()
    for tmp, target in staged:
        tmp.replace(target)
    atomic_write_text(
        best / "checkpoint", f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'
    )
    atomic_write_text(best / "best.yaml", f"step: {step}\nfid: {fid!r}\nscoring: {json.dumps(scoring)}\n")
    for f in best.glob(f"{CHECKPOINT_NAME}-*"):
        if not f.name.startswith(name + "."):
            f.unlink()
    for f in best.glob(f".{CHECKPOINT_NAME}-*.tmp"):  # copies a crash left half made (ours are renamed)
        f.unlink()
    return best
