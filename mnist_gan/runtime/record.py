"""A checkpoint folder's record: what made its checkpoints, and whether a command may resume it.

The ``config-*.yaml`` beside the checkpoints holds the run's config plus a ``run`` mapping:
the step of the newest checkpoint, a fingerprint of the training data (a hash of the
arrays, so a moved dataset still matches and another one with the same path does not)
and the history of the folder (each continuation with changed values, each start-over).

A run resumes without asking only when the data, the architecture and the training
hyperparameters are those of the folder; the keys in ``FREE_KEYS`` (length, logging,
evaluation, where and how it runs) may differ.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mnist_gan.runtime import config as config_lib
from mnist_gan.runtime import flags
from mnist_gan.runtime.files import atomic_write_text, timestamp

RUN_KEY = "run"

# Keys that may change between the runs of one folder without asking: how long to train,
# what is logged or evaluated, and where and how the run executes. Everything else is the
# experiment itself. The two resume flags are never recorded.
FREE_KEYS = frozenset(
    {
        "steps",
        "epochs",
        "save_dir",
        "log_dir",
        # The data itself is compared by its fingerprint and class names, not by how it was named.
        "test_fraction",
        "class_names",
        "classifier_dir",
        "steps_per_call",
        "save_every",
        "eval_every",
        "eval_samples",
        "eval",
        "keep_checkpoints",
        "strategy",
        "cpu_replicas",
        "collective_timeout",
        "deterministic",
        "continue_with_changes",
        "start_over",
    }
)
NOT_RECORDED = ("continue_with_changes", "start_over")


def data_fingerprint(*arrays: np.ndarray) -> str:
    """sha256 of the arrays (the training images and labels; shapes included), shortened."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return "sha256:" + digest.hexdigest()[:32]


# Runs recorded before class names were saved all trained on digits.
DIGITS = [str(d) for d in range(10)]


def read(folder: str | Path, filename: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(config keys, run record) of the folder, or None if it has no record."""
    path = Path(folder) / filename
    if not path.is_file():
        return None
    saved = config_lib.load_yaml(path)
    run = saved.pop(RUN_KEY, None)
    return saved, run if isinstance(run, dict) else {}


def write(
    cfg: config_lib.Config,
    path: Path,
    *,
    step: int,
    fingerprint: str,
    classes: list[str],
    history: list[dict[str, Any]],
    length: int | None = None,
    evaluated: int | None = None,
) -> None:
    """Write ``cfg`` and its run record to ``path`` atomically; ``length`` is the step the run
    trains to (``--steps``, or ``--epochs`` counted in steps), ``evaluated`` the last step
    whose scheduled evaluation finished (one cut short by an interrupt is owed on resume)."""
    data = {k: v for k, v in cfg.to_dict().items() if k not in NOT_RECORDED}
    lengths = {} if length is None else {"length": length}
    scored = {} if evaluated is None else {"evaluated": evaluated}
    data[RUN_KEY] = {
        "step": step,
        **lengths,
        **scored,
        "data_fingerprint": fingerprint,
        "classes": classes,
        "history": history,
    }
    atomic_write_text(Path(path), yaml.safe_dump(data, sort_keys=False))


@dataclass
class FolderPlan:
    """What a run does with its save folder (see :func:`plan_folder`)."""

    start_over: bool = False
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    length: int | None = None  # the step the folder's run trained to, if its record says
    evaluated: int | None = None  # the last step its evaluation finished at, if its record says


def recorded_length(saved: dict[str, Any], run: dict[str, Any]) -> int | None:
    """The step a recorded run trained to: its record's ``length``; in a record written before
    lengths were, its ``steps`` when no ``epochs`` set the length; else unknown (None)."""
    length = run.get("length")
    if isinstance(length, int):
        return length
    steps = saved.get("steps")
    return steps if isinstance(steps, int) and not saved.get("epochs") else None


def _show(changes: dict[str, tuple[Any, Any]]) -> str:
    # The data is shown as "path fingerprint" without quotes; values as Python literals.
    return ", ".join(
        f"{k} {old} -> {new}" if k == "data" else f"{k} {old!r} -> {new!r}"
        for k, (old, new) in changes.items()
    )


def classes(run: dict[str, Any], data: list[str] | None = None) -> list[str]:
    """The class names a run record says its models were built for.

    Records written before class names were saved hold none: their models have 10 classes,
    named by the data (digits for MNIST, a classes.txt for Fashion-MNIST), so ``data``
    names them when it has 10 classes, else they are the digits.
    """
    recorded = run.get("classes")
    if recorded:
        return [str(name) for name in recorded]
    return list(data) if data is not None and len(data) == len(DIGITS) else DIGITS


def compare(
    cfg: config_lib.Config, saved: dict[str, Any], run: dict[str, Any], fingerprint: str, names: list[str]
) -> tuple[dict[str, tuple[Any, Any]], dict[str, tuple[Any, Any]]]:
    """The one comparison of a saved config with ``cfg``: (differences that can never be
    continued: data, classes and architecture; differences that may be, when asked), each
    key -> (saved, now)."""
    now = cfg.to_dict()
    never: dict[str, tuple[Any, Any]] = {}
    recorded = classes(run, names)
    if recorded != names:
        never["classes"] = (recorded, names)
    saved_print = run.get("data_fingerprint")
    if saved_print is None:  # a record written before fingerprints: the path must match
        if saved.get("data_dir") != now.get("data_dir"):
            never["data_dir"] = (saved.get("data_dir"), now.get("data_dir"))
    elif saved_print != fingerprint:
        never["data"] = (f"{saved.get('data_dir')} {saved_print}", f"{now.get('data_dir')} {fingerprint}")
        if "test_fraction" in saved and saved["test_fraction"] != now.get("test_fraction"):
            never["test_fraction"] = (saved["test_fraction"], now.get("test_fraction"))  # the likely why
    then = config_lib.as_trained(type(cfg), saved)
    for key in cfg.ARCHITECTURE_KEYS:
        before = then.get(key, now[key])
        if before != now[key]:
            never[key] = (before, now[key])
    # float16 alone scales the loss, which adds the scale's variables to the checkpoint: to or
    # from float16 the checkpoints no longer match (between bfloat16 and float32 they do).
    precisions = (then.get("mixed_precision", now.get("mixed_precision")), now.get("mixed_precision"))
    if precisions[0] != precisions[1] and "float16" in precisions:
        never["mixed_precision"] = precisions
    skip = {*FREE_KEYS, *never, "data_dir"}
    changed = {k: (then[k], v) for k, v in now.items() if k in then and k not in skip and then[k] != v}
    changeable = {k: d for k, d in changed.items() if not config_lib.without_effect(type(cfg), k, then, now)}
    return never, changeable


def other_data(cfg: config_lib.Config, folder: str | Path, fingerprint: str, names: list[str]) -> bool:
    """Whether ``folder`` records a run on other data or classes than these, which this run
    cannot continue (``--start-over`` aside): the command then checks nothing that only a
    continued run would need (a classifier of these classes), so the folder's refusal, with
    its ways out, is the error shown (:func:`plan_folder` gives it)."""
    if getattr(cfg, "start_over", False):
        return False
    try:
        found = read(folder, cfg.SAVED_AS)
    except config_lib.ConfigError:  # damaged: plan_folder says so
        return False
    if found is None:
        return False
    never, _ = compare(cfg, found[0], found[1], fingerprint, names)
    return bool({"data", "data_dir", "classes"} & set(never))


def _as_it_was(cfg: config_lib.Config, never: dict[str, Any], changeable: dict[str, Any]) -> str:
    """The flags that continue a run exactly as it was (after a change of defaults, say),
    or '' when no flag can (other data or classes)."""
    if set(never) - set(cfg.ARCHITECTURE_KEYS):
        return ""
    words = " ".join(flags.setting(k, old) for k, (old, _) in {**never, **changeable}.items())
    return f", or continue it as it was: {words}"


def _without_record(cfg: config_lib.Config, folder: str | Path, held: list[str]) -> FolderPlan:
    """A folder with no record: a new run, unless checkpoints are there that nothing explains."""
    from mnist_gan.runtime.errors import CheckpointError

    if not held:
        return FolderPlan()
    if getattr(cfg, "start_over", False):
        return FolderPlan(
            start_over=True, history=[{"time": timestamp(), "started_over": "checkpoints unrecorded"}]
        )
    if getattr(cfg, "continue_with_changes", False):
        entry = {"time": timestamp(), "continued_unrecorded": Path(held[-1]).name}
        note = f"note: continuing checkpoints that had no {cfg.SAVED_AS}; it records this run's settings now"
        return FolderPlan(history=[entry], notes=[note])
    shown = ", ".join(Path(p).name for p in held)
    raise CheckpointError(
        f"{folder} holds checkpoints ({shown}) but no {cfg.SAVED_AS} to say what made them; put it "
        "back, or pass --continue-with-changes to continue them with these settings, or --start-over "
        "to start afresh there (they are moved aside), or another --save-dir"
    )


def _without_checkpoints(
    cfg: config_lib.Config, folder: str | Path, step: int, history: list[Any]
) -> FolderPlan:
    """A record of a run at ``step`` whose checkpoints are all gone: starting at 0 under it
    (and beside its best/) would be another run claiming its history."""
    from mnist_gan.runtime.errors import CheckpointError

    if getattr(cfg, "start_over", False):
        entry = {"time": timestamp(), "started_over": f"no checkpoint of step {step} left"}
        return FolderPlan(start_over=True, history=[*history, entry])
    raise CheckpointError(
        f"{folder}: its {cfg.SAVED_AS} records a run at step {step}, but no checkpoint of it is left; "
        "pass --start-over to start afresh there (the record and best/ are moved aside), or another "
        "--save-dir"
    )


def plan_folder(
    cfg: config_lib.Config, folder: str | Path, fingerprint: str, names: list[str], held: list[str]
) -> FolderPlan:
    """Decide, before anything is written, whether this run may use ``folder``, which holds
    the checkpoints ``held``.

    Raises :class:`CheckpointError` listing every difference, with the ways out, when the
    folder holds another run and neither ``--continue-with-changes`` nor ``--start-over``
    allows it; and when its checkpoints have no record, or its record no checkpoints.
    """
    from mnist_gan.runtime.errors import CheckpointError

    found = read(folder, cfg.SAVED_AS)
    if found is None:
        return _without_record(cfg, folder, held)
    saved, run = found
    history = list(run.get("history") or [])
    recorded_step = run.get("step")
    if not held and isinstance(recorded_step, int) and recorded_step > 0:
        return _without_checkpoints(cfg, folder, recorded_step, history)
    never, changeable = compare(cfg, saved, run, fingerprint, names)
    length = recorded_length(saved, run)
    evaluated = run.get("evaluated") if isinstance(run.get("evaluated"), int) else None
    if not never and not changeable:
        return FolderPlan(history=history, length=length, evaluated=evaluated)
    entry: dict[str, Any]
    if getattr(cfg, "start_over", False):
        entry = {"time": timestamp(), "started_over": _show({**never, **changeable})}
        return FolderPlan(start_over=True, history=[*history, entry])
    if never:
        raise CheckpointError(
            f"{folder} holds a run that cannot be continued with this data or architecture "
            f"({_show(never)}{'; also ' + _show(changeable) if changeable else ''}); pass another "
            f"--save-dir, or --start-over to start afresh there (its checkpoints are moved aside)"
            f"{_as_it_was(cfg, never, changeable)}"
        )
    if getattr(cfg, "continue_with_changes", False):
        entry = {
            "time": timestamp(),
            "step": recorded_step,  # the step resumed from, once known (the run's folder sets it)
            "continued_with": {k: [o, n] for k, (o, n) in changeable.items()},
        }
        notes = [f"note: continuing with {k} changed from {o!r} to {n!r}" for k, (o, n) in changeable.items()]
        return FolderPlan(
            changed=changeable, history=[*history, entry], notes=notes, length=length, evaluated=evaluated
        )
    raise CheckpointError(
        f"{folder} holds a run with other settings ({_show(changeable)}); pass another --save-dir, "
        "or --continue-with-changes to continue it with the new values, or --start-over to start "
        f"afresh there (its checkpoints are moved aside){_as_it_was(cfg, never, changeable)}"
    )


def named_folder(
    cls: type[config_lib.Config], key: str, saved: Any, source: str | Path, what: str, otherwise: str = ""
) -> str:
    """The folder ``key`` of the record ``source`` names (``saved``, typed as ``cls`` types
    it), if it is still there; otherwise an error that says where the name came from and
    which flag to pass instead (or, with ``otherwise``, what else the user can do)."""
    from mnist_gan.runtime.errors import DataError

    value = config_lib.typed_value(cls, key, saved, str(source))
    found = locate(value, source)
    if found != value:
        where = "moved" if Path(value).is_absolute() else "moved, or named relative to another folder"
        fix = f"{flags.flag(key)} {found}" if found else flags.flag(key)
        alternative = f", or {otherwise}" if otherwise else ""
        raise DataError(
            f"{value}: the {what} (named in {source}) is not there ({where}); pass {fix}{alternative}"
        )
    return value


def locate(value: str, source: str | Path) -> str | None:
    """Where a folder that the record ``source`` names is: as named, or, named relative to
    another folder, above the record (see :func:`_beside_the_record`); None if neither."""
    if Path(value).exists():
        return value
    found = None if Path(value).is_absolute() else _beside_the_record(Path(value), Path(source))
    return str(found) if found else None


def _beside_the_record(relative: Path, source: Path) -> Path | None:
    """Where a relative folder of a record is, if the run was started from a folder above the
    record's (``make demo`` names datasets/MNIST-5k from the clone; a command run elsewhere
    reads that name relative to its own folder)."""
    for start in source.absolute().parents:
        if (start / relative).exists():
            return start / relative
    return None
