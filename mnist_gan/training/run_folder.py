"""A run's checkpoint folder: who may use it, where it resumes from, and where the run writes.

The chief takes the folder's lock, removes what crashed saves left, refuses a folder that
holds another run (:func:`mnist_gan.runtime.record.plan_folder`) and sets damaged checkpoints
aside. Every worker resumes from the chief's newest checkpoint that reads. Only the chief
keeps checkpoints, the log folder and the record; other workers save to a temporary folder
(saving is collective) that :func:`close_run` removes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tensorflow as tf

from mnist_gan.configs import DEFAULT_DATA_DIR, GanConfig, RunConfig, run_kind
from mnist_gan.data import sources
from mnist_gan.runtime import checkpoints, cli, distribute, files, record
from mnist_gan.runtime import config as config_lib
from mnist_gan.runtime.errors import CheckpointError
from mnist_gan.runtime.lock import LOCK_NAME, FolderLock

R = TypeVar("R", bound=RunConfig)

# What a GAN run can do when its classifier cannot be found: the hint of every such error.
WITHOUT_SCORES = "train without in-training scores (--no-eval)"


@dataclass
class RunFolder:
    """What :func:`open_run` found and opened: resume state, checkpoint manager and log writer."""

    manager: tf.train.CheckpointManager
    own_dir: Path  # the save folder on the chief; a temporary one on other workers
    chief: bool
    resumed_from: int
    skipped: list[str]
    changed: dict[str, Any] = field(default_factory=dict)
    nothing_to_do: bool = False
    log_dir: Path | None = None  # only on the chief, and only when there is training to do
    writer: tf.summary.SummaryWriter | None = None
    lock: FolderLock | None = None
    record: Callable[[int], None] | None = None  # rewrites the folder's record at a saved step
    # The last step whose scheduled evaluation finished (the record keeps it): an interrupt
    # between a step's save and its evaluation leaves that evaluation owed to the next run.
    evaluated: int | None = None

    def note_evaluated(self, step: int, scores: dict[str, float]) -> None:
        """After each evaluation: the step the record's next write says was evaluated."""
        self.evaluated = step

    @property
    def owes_evaluation(self) -> bool:
        """Whether the step resumed from is past the last evaluation: at the run's end, one
        an interrupt cut short (the loop knows the other steps evaluations are due at)."""
        return self.evaluated is not None and self.evaluated < self.resumed_from


def _say(line: str) -> None:
    print(line, flush=True)


def _set_aside_damaged(save_dir: Path, damaged: list[str]) -> None:
    """Move unreadable checkpoints into ``damaged-<time>/`` (the caller drops them from the
    rotation: left there, a damaged newest checkpoint would outlive the good one before it)."""
    target = save_dir / f"damaged-{files.timestamp()}"
    target.mkdir(exist_ok=True)
    for path in damaged:
        for f in Path(path).parent.glob(Path(path).name + ".*"):
            shutil.move(str(f), str(target / f.name))


def _refuse_the_other_commands(cfg: RunConfig) -> None:
    """A GAN never trains in a classifier's folder, nor the other way: continued or started
    over there, it would move the other's checkpoints aside (a GAN's --save-dir given as its
    own --classifier-dir, say) or fail on their weights."""
    theirs = run_kind(cfg.save_dir)
    if theirs is not None and not (Path(cfg.save_dir) / cfg.SAVED_AS).is_file():
        raise CheckpointError(
            f"{cfg.save_dir} holds a {theirs} run, not this command's; pass another --save-dir"
        )


def _take(cfg: RunConfig) -> FolderLock:
    """The chief's first duties: prove the folders writable, then lock the save folder."""
    # The log folder first: refused, it leaves no empty save folder behind.
    files.check_writable_target(cfg.log_dir, "--log-dir", folder=True)
    files.check_writable(cfg.save_dir, "--save-dir")
    lock = FolderLock(Path(cfg.save_dir))
    note = lock.acquire()
    if note:
        _say(note)
    return lock


def _tidy(save_dir: Path, plan: record.FolderPlan) -> None:
    """The chief removes leftovers of crashed saves and, starting over, moves the old run aside."""
    leftovers = _clean_leftovers(save_dir)
    if leftovers:
        _say(f"note: removed what an interrupted save left: {', '.join(p.name for p in leftovers)}")
    if plan.start_over:
        moved = _move_aside(save_dir, keep=(LOCK_NAME,))
        _say(f"starting over in {save_dir}: the previous run was moved into {moved}")


def _move_aside(folder: str | Path, keep: tuple[str, ...]) -> Path | None:
    """Move everything in ``folder`` but ``keep`` and earlier set-asides into ``replaced-<time>/``."""
    folder = Path(folder)
    items = [
        p for p in folder.iterdir() if p.name not in keep and not p.name.startswith(("replaced-", "damaged-"))
    ]
    if not items:
        return None
    target = folder / f"replaced-{files.timestamp()}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"replaced-{files.timestamp()}-{n}"
    target.mkdir()
    for p in items:
        shutil.move(str(p), str(target / p.name))
    return target


def _clean_leftovers(folder: str | Path) -> list[Path]:
    """Remove what an interrupted save leaves: TF's ``*_temp`` folders and our ``.*.tmp`` files."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in sorted(folder.glob("*_temp")) + sorted(folder.glob(".*.tmp")):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def with_the_runs_data(cfg: R, given: Collection[str], default_dir: str = DEFAULT_DATA_DIR) -> R:
    """Resuming needs no --data-dir: ``cfg`` with the data (folder, split and class names) its
    ``save_dir``'s record names, or ``default_dir`` for a new run. The keys in ``given`` (set
    by the command line or a --config file) are kept, so a changed split is refused as such.
    The split or names come from the record too when --data-dir names a folder, those that
    apply to it (:func:`~mnist_gan.data.sources.keys_that_apply`): the run's own, or a copy of
    it moved elsewhere, whose images then match the record's only if read as they were (other
    data is refused by its fingerprint, however it is read)."""
    saved, source = _the_runs_record(cfg)
    kind = type(cfg)
    keys: tuple[str, ...] = ("test_fraction", "class_names")
    if cfg.data_dir:
        if getattr(cfg, "start_over", False) or not saved.get("data_dir"):  # nothing to continue
            return cfg
        data_dir = cfg.data_dir
        # Names given for IDX files are refused for an image folder as not its own: named, such
        # a folder is refused as other data, with the ways out that that error gives.
        keys = sources.keys_that_apply(Path(data_dir))
    elif not saved.get("data_dir"):
        return cfg.replace(data_dir=default_dir)
    else:
        data_dir = record.named_folder(
            kind, "data_dir", saved["data_dir"], source, "data this run trained on"
        )
    same_data = {
        k: config_lib.typed_value(kind, k, saved[k], source) for k in keys if k in saved and k not in given
    }
    return cfg.replace(data_dir=data_dir, **same_data)


def with_the_runs_classifier(cfg: GanConfig, given: Collection[str]) -> GanConfig:
    """Resuming scores with the run's classifier: ``cfg`` with the ``classifier_dir`` its
    ``save_dir``'s record names unless ``given`` holds one (another classifier's FIDs would
    not compare with the run's best). Kept by a run that does not score (``--no-eval``) too,
    so its record still names the classifier the run's scores came from."""
    if "classifier_dir" in given:
        return cfg
    saved, source = _the_runs_record(cfg)
    if not saved.get("classifier_dir") or saved["classifier_dir"] == cfg.classifier_dir:
        return cfg
    if not cfg.eval:  # nothing is loaded: the name is carried as recorded, there or not
        return cfg.replace(
            classifier_dir=config_lib.typed_value(
                type(cfg), "classifier_dir", saved["classifier_dir"], source
            )
        )
    what = "classifier this run scored with"
    found = record.named_folder(
        type(cfg), "classifier_dir", saved["classifier_dir"], source, what, WITHOUT_SCORES
    )
    return cfg.replace(classifier_dir=found)


def _the_runs_record(cfg: RunConfig) -> tuple[dict[str, Any], str]:
    """The config saved in ``cfg.save_dir`` ({} for a new run), and its path for messages."""
    return checkpoints.saved_config(cfg.save_dir, cfg.SAVED_AS) or {}, str(Path(cfg.save_dir) / cfg.SAVED_AS)


def _resume(checkpoint: tf.train.Checkpoint, cfg: RunConfig, chief: bool) -> list[str] | None:
    """Restore the newest checkpoint that reads; the damaged ones skipped, or None if none was."""
    restored, skipped = checkpoints.restore_newest_good(checkpoint, cfg.save_dir)
    for path in skipped:
        _say(f"warning: {path} could not be read (damaged); resumed from the checkpoint before it")
    if restored:
        cli.note_checkpoint()
    # Only once a checkpoint has restored: a run refused here leaves the folder as it was.
    if restored and chief:
        if skipped:
            _set_aside_damaged(Path(cfg.save_dir), skipped)
        lacking = checkpoints.rewrite_state(cfg.save_dir, drop=skipped)
        if lacking:
            _say(
                f"note: {Path(cfg.save_dir) / 'checkpoint'} did not list the checkpoints of step "
                f"{', '.join(lacking)} (it was missing, damaged or behind); rewritten from the "
                "ckpt-*.index files there"
            )
    return skipped if restored else None


def _recorder(
    cfg: RunConfig, fingerprint: str, classes: list[str], plan: record.FolderPlan, length: int, run: RunFolder
) -> Callable[..., None]:
    """Writes the config and its run record into the save folder (and the log folder once)."""

    def write(at: int, folders: tuple[Path, ...] = (Path(cfg.save_dir),)) -> None:
        for folder in folders:
            record.write(
                cfg,
                folder / cfg.SAVED_AS,
                step=at,
                length=length,
                fingerprint=fingerprint,
                classes=classes,
                history=plan.history,
                evaluated=run.evaluated,
            )

    return write


def open_run(
    cfg: RunConfig,
    strategy: tf.distribute.Strategy,
    checkpoint: tf.train.Checkpoint,
    step: tf.Variable,
    *,
    fingerprint: str,
    classes: list[str],
    total_steps: int,
    length_flag: str,
) -> RunFolder:
    """Check that this run may use ``cfg.save_dir``, resume from it and open the run's folders.

    What it resumed, skipped or changed is printed now, before training. With nothing left
    to train, nothing is written and ``nothing_to_do`` is set. The lock is held until
    :func:`close_run`.
    """
    save_dir, chief = Path(cfg.save_dir), distribute.is_chief(strategy)
    _refuse_the_other_commands(cfg)
    lock = _take(cfg) if chief else None
    try:
        plan = record.plan_folder(cfg, save_dir, fingerprint, classes, checkpoints.found(save_dir))
        if chief:
            _tidy(save_dir, plan)
        skipped = None if plan.start_over else _resume(checkpoint, cfg, chief)
        resumed_from = int(step.numpy()) if skipped is not None else 0
        if plan.changed:  # an older checkpoint than the record's step may be the one resumed
            plan.history[-1]["step"] = resumed_from
        folder = RunFolder(
            manager=checkpoints.manager(checkpoint, save_dir, cfg.keep_checkpoints),
            own_dir=save_dir,
            chief=chief,
            resumed_from=resumed_from,
            skipped=skipped or [],
            # A new run owes nothing at step 0; a resumed one's record can name a step past the
            # checkpoint restored (the newer ones gone): that one was evaluated before it went on.
            evaluated=(None if plan.evaluated is None else min(plan.evaluated, resumed_from))
            if skipped is not None
            else 0,
        )
        if skipped is not None and resumed_from >= total_steps and not folder.owes_evaluation:
            _say(f"already at step {resumed_from}; raise {length_flag} to continue")
            folder.nothing_to_do = True
            if lock is not None:
                lock.release()
            return folder
        for line in plan.notes:
            _say(line)
        if skipped is not None and plan.length is not None and plan.length != total_steps:
            _record_new_length(cfg, plan, resumed_from, total_steps, length_flag)
        if skipped is not None:
            # The length may come from the defaults, not the command that made the folder:
            # say where this run stops, before the bar's total is the only sign.
            to = f"training to step {total_steps} ({length_flag})"
            _say(f"resumed from step {resumed_from} in {save_dir}; {to}")
        write_record = _recorder(cfg, fingerprint, classes, plan, total_steps, folder)
        return _open_outputs(folder, cfg, strategy, checkpoint, write_record, plan, lock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _record_new_length(
    cfg: RunConfig, plan: record.FolderPlan, resumed_from: int, total_steps: int, length_flag: str
) -> None:
    """Put a change of the run's length into its history, and say so. The learning rates
    decay over the length: a folder continued to another one trained on two schedules, and
    its record must not show only the last."""
    if not plan.changed:  # else the entry of this continuation is the last one already
        plan.history.append({"time": files.timestamp(), "step": resumed_from})
    plan.history[-1]["length"] = [plan.length, total_steps]
    decays = getattr(cfg, "lr_decay", "") != "none"  # the classifier's always does
    why = f": from here its learning rates are those of a run of {total_steps} steps" if decays else ""
    _say(
        f"note: this run trained towards step {plan.length}, now towards {total_steps} "
        f"({length_flag}){why}; recorded in the folder's history"
    )


def _open_outputs(
    folder: RunFolder,
    cfg: RunConfig,
    strategy: tf.distribute.Strategy,
    checkpoint: tf.train.Checkpoint,
    write_record: Callable[..., None],
    plan: record.FolderPlan,
    lock: FolderLock | None,
) -> RunFolder:
    """Where this worker saves (collectively), and on the chief the log folder and the record."""
    folder.own_dir = distribute.save_dir_for(strategy, cfg.save_dir)
    folder.manager = checkpoints.manager(checkpoint, folder.own_dir, cfg.keep_checkpoints)
    folder.changed, folder.lock = plan.changed, lock
    if folder.chief:
        folder.log_dir = files.new_log_dir(cfg.log_dir)
        folder.writer = tf.summary.create_file_writer(str(folder.log_dir))
        write_record(folder.resumed_from, (Path(cfg.save_dir), folder.log_dir))
        folder.record = write_record
    return folder


def close_run(strategy: tf.distribute.Strategy, folder: RunFolder) -> None:
    """Remove a non-chief worker's temporary checkpoints; release the folder's lock."""
    distribute.cleanup(strategy, folder.own_dir)
    if folder.lock is not None:
        folder.lock.release()
