"""The outer training loop, apart from the step (as TF Orbit's Controller is from its Trainer).

The loop decides how long to train and when to log, evaluate and checkpoint; the trainer
only runs ``n`` distributed steps per call and reports their mean metrics.
"""

from __future__ import annotations

import math
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import keras
import tensorflow as tf
from google.protobuf import text_format
from tqdm import tqdm

from mnist_gan import checkpoints, config, distribute, record, runs
from mnist_gan.errors import CheckpointError, TrainingDiverged
from mnist_gan.files import atomic_write_text
from mnist_gan.lock import LOCK_NAME, FolderLock


class Trainer(Protocol):
    """What the loop drives: a step counter, the models, and a call that runs ``n`` steps."""

    step: tf.Variable
    models: list[keras.Model]

    def train(self, num_steps: tf.Tensor) -> dict[str, tf.Tensor]: ...


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) arrived; the loop saves a checkpoint and stops."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ignore SIGTERM and SIGINT for a while: a second signal must not cut the interrupt save."""
    try:
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`Interrupted` while training (only in the main thread)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    try:
        previous: Any = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def first_bad_weight(models: list[keras.Model]) -> str | None:
    """The path of the first variable holding NaN or Inf, or None."""
    for model in models:
        for variable in model.variables:
            if not bool(tf.reduce_all(tf.math.is_finite(tf.cast(variable.value, tf.float32)))):
                return str(variable.path)
    return None


@dataclass
class Schedule:
    """How long to train and the intervals (in steps) of the loop's duties."""

    total_steps: int
    steps_per_call: int
    save_every: int
    eval_every: int
    images_per_step: int


@dataclass
class RunFiles:
    """Where a run resumed from and writes to (see :func:`open_run`)."""

    manager: tf.train.CheckpointManager
    own_dir: Path
    log_dir: Path | None  # None on workers other than the chief, and when there is nothing to do
    writer: tf.summary.SummaryWriter | None
    resumed_from: int
    skipped: list[str]
    changed: dict[str, Any] = field(default_factory=dict)
    nothing_to_do: bool = False
    lock: FolderLock | None = None
    record: Callable[[int], None] | None = None  # rewrites the folder's record at a saved step


def _say(line: str) -> None:
    print(line, flush=True)


def _set_aside_damaged(save_dir: Path, manager: tf.train.CheckpointManager, damaged: list[str]) -> None:
    """Move unreadable checkpoints into ``damaged-<time>/`` and drop them from the rotation.

    Left in the rotation, a damaged newest checkpoint would outlive the good one before it.
    """
    bad_names = {Path(p).name for p in damaged}
    target = save_dir / f"damaged-{runs.timestamp()}"
    target.mkdir(exist_ok=True)
    for path in damaged:
        for f in Path(path).parent.glob(Path(path).name + ".*"):
            shutil.move(str(f), str(target / f.name))
    state = tf.train.get_checkpoint_state(str(save_dir))
    if state is None:
        return
    pairs = list(zip(state.all_model_checkpoint_paths, state.all_model_checkpoint_timestamps, strict=False))
    kept = [(Path(p).name, t) for p, t in pairs if p not in damaged and Path(p).name not in bad_names]
    if not kept:
        (save_dir / "checkpoint").unlink(missing_ok=True)
        return
    # Rewrite TF's state file (a text proto) without them; the timestamps keep the rest in
    # the rotation (TF preserves for ever checkpoints it finds without one).
    del state.all_model_checkpoint_paths[:]
    del state.all_model_checkpoint_timestamps[:]
    state.all_model_checkpoint_paths.extend(name for name, _ in kept)
    state.all_model_checkpoint_timestamps.extend(t for _, t in kept)
    state.model_checkpoint_path = kept[-1][0]
    atomic_write_text(save_dir / "checkpoint", text_format.MessageToString(state))


def open_run(
    cfg: config.Config,
    config_name: str,
    strategy: tf.distribute.Strategy,
    checkpoint: tf.train.Checkpoint,
    step: tf.Variable,
    *,
    fingerprint: str,
    total_steps: int,
    length_flag: str,
) -> RunFiles:
    """Check that this run may use ``cfg.save_dir``, resume from it and open the run's folders.

    The chief takes the folder's lock first (held until :func:`close_run`), removes what
    crashed saves left, and refuses a folder holding another run (see
    :func:`mnist_gan.record.plan`). Every worker resumes from the chief's checkpoints (the
    newest that reads). What it resumed, skipped or changed is printed now, before training.
    With nothing left to train, nothing is written and ``nothing_to_do`` is set. Only the
    chief keeps checkpoints, the log folder and the config copies; other workers save to a
    temporary folder (saving is collective) that :func:`close_run` removes.
    """
    save_dir, log_root = Path(getattr(cfg, "save_dir")), Path(getattr(cfg, "log_dir"))  # noqa: B009
    keep = int(getattr(cfg, "keep_checkpoints", 3))
    chief = distribute.is_chief(strategy)
    lock = None
    if chief:
        runs.check_writable(save_dir)
        runs.check_writable_later(log_root)
        lock = FolderLock(save_dir)
        note = lock.acquire()
        if note:
            _say(note)
    try:
        if not getattr(cfg, "start_over", False):
            checkpoints.check_architecture(cfg, save_dir, config_name)
        plan = record.plan(cfg, save_dir, config_name, fingerprint)
        if chief:
            leftovers = record.clean_leftovers(save_dir)
            if leftovers:
                _say(f"note: removed what an interrupted save left: {', '.join(p.name for p in leftovers)}")
            if plan.start_over:
                moved = record.move_aside(save_dir, keep=(LOCK_NAME,))
                _say(f"starting over in {save_dir}: the previous run was moved into {moved}")
        restored, skipped = None, list[str]()
        if not plan.start_over:
            manager = tf.train.CheckpointManager(checkpoint, str(save_dir), max_to_keep=keep)
            restored, skipped = checkpoints.restore_newest_good(checkpoint, manager)
            for path in skipped:
                _say(f"warning: {path} could not be read (damaged); resumed from the checkpoint before it")
            if skipped and chief:
                _set_aside_damaged(save_dir, manager, skipped)
        resumed_from = int(step.numpy()) if restored else 0
        if restored and resumed_from >= total_steps:
            _say(f"already at step {resumed_from}; raise {length_flag} to continue")
            if lock is not None:
                lock.release()
            return RunFiles(
                manager=tf.train.CheckpointManager(checkpoint, str(save_dir), max_to_keep=keep),
                own_dir=save_dir,
                log_dir=None,
                writer=None,
                resumed_from=resumed_from,
                skipped=skipped,
                nothing_to_do=True,
            )
        for line in plan.notes:
            _say(line)
        if restored:
            _say(f"resumed from step {resumed_from} in {save_dir}")
        own_dir = distribute.save_dir_for(strategy, save_dir)
        log_dir = runs.new_log_dir(log_root) if chief else None
        saver = None
        if log_dir is not None:

            def saver(at: int, folders: tuple[Path, ...] = (save_dir,)) -> None:
                for folder in folders:
                    record.write(
                        cfg, folder / config_name, step=at, fingerprint=fingerprint, history=plan.history
                    )

            saver(resumed_from, (save_dir, log_dir))
        return RunFiles(
            manager=tf.train.CheckpointManager(checkpoint, str(own_dir), max_to_keep=keep),
            own_dir=own_dir,
            log_dir=log_dir,
            writer=tf.summary.create_file_writer(str(log_dir)) if log_dir is not None else None,
            resumed_from=resumed_from,
            skipped=skipped,
            changed=plan.changed,
            lock=lock,
            record=saver,
        )
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def close_run(strategy: tf.distribute.Strategy, files: RunFiles) -> None:
    """Remove a non-chief worker's temporary checkpoints; release the folder's lock."""
    distribute.cleanup(strategy, files.own_dir)
    if files.lock is not None:
        files.lock.release()


def _next_stop(step: int, schedule: Schedule) -> int:
    """The nearest step at which the loop must stop to log, save, evaluate or finish."""
    stops = [schedule.total_steps, step + schedule.steps_per_call]
    for every in (schedule.save_every, schedule.eval_every):
        if every > 0:
            stops.append((step // every + 1) * every)
    return min(stops)


class Controller:
    """Runs a :class:`Trainer` to ``total_steps`` with summaries, evaluation and checkpoints."""

    SHOWN = ("images_per_second", "wasserstein", "accuracy")

    def __init__(
        self,
        trainer: Trainer,
        schedule: Schedule,
        manager: tf.train.CheckpointManager | None,
        writer: tf.summary.SummaryWriter | None,
        evaluate: Callable[[int], dict[str, float]] | None = None,
        description: str = "train",
        on_save: Callable[[int], None] | None = None,
        save_on_eval: bool = False,
        progress: bool = True,
    ) -> None:
        self.on_save = on_save
        # Every worker knows the schedule, so saving at evaluation steps stays collective.
        self.save_on_eval = save_on_eval
        self.trainer = trainer
        self.progress = progress
        self.schedule = schedule
        self.manager = manager
        self.writer = writer
        self.evaluate = evaluate
        self.description = description
        # Seconds spent in training steps in this process (no evaluation, saving or start-up):
        # what "time to quality" is measured in.
        self.train_seconds = 0.0

    def _save(self, step: int) -> None:
        if self.manager is None or self.manager.latest_checkpoint == self._path_for(step):
            return
        bad = first_bad_weight(self.trainer.models)
        if bad is not None:
            raise TrainingDiverged(self._diverged(step, f"weight {bad} holds NaN or Inf"))
        try:
            self.manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError) as e:
            raise self._save_failed(step, e) from e
        if self.on_save is not None:
            self.on_save(step)

    def _save_failed(self, step: int, error: Exception) -> CheckpointError:
        """Remove the partial save; say which path failed and which checkpoint is still good."""
        assert self.manager is not None
        for partial in Path(self.manager.directory).glob(f"{Path(self._path_for(step)).name}_temp*"):
            shutil.rmtree(partial, ignore_errors=True)
        for partial in Path(self.manager.directory).glob(f"{Path(self._path_for(step)).name}.*"):
            partial.unlink(missing_ok=True)
        if isinstance(error, tf.errors.OpError) and error.message.strip():
            reason = error.message.strip().splitlines()[0][:200]
        else:
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        kept = self.manager.latest_checkpoint or "none"
        return CheckpointError(
            f"{self._path_for(step)}: cannot write the checkpoint ({reason}); the newest good checkpoint "
            f"is {kept}; free some space (or fix the permissions) and run the same command again"
        )

    def _diverged(self, step: int, what: str) -> str:
        kept = self.manager.latest_checkpoint if self.manager else None
        return (
            f"training diverged at step {step}: {what}; stopped without saving it "
            f"(last good checkpoint: {kept or 'none'}); lower the learning rates and resume"
        )

    def _path_for(self, step: int) -> str:
        assert self.manager is not None
        return f"{self.manager._checkpoint_prefix}-{step}"

    def _write(self, prefix: str, metrics: dict[str, float], step: int) -> None:
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            for name, value in metrics.items():
                tf.summary.scalar(f"{prefix}/{name}", value)

    def run(self) -> dict[str, float]:
        """Train to the end of the schedule; return the last training and eval metrics."""
        s = self.schedule
        step = int(self.trainer.step.numpy())
        last: dict[str, float] = {}
        bar = tqdm(
            total=s.total_steps,
            initial=step,
            desc=self.description,
            unit="step",
            dynamic_ncols=True,
            disable=not self.progress,  # one bar per cluster: the chief's
        )
        with _stop_on_sigterm():
            return self._run(step, bar, last)

    def _run(self, step: int, bar: tqdm, last: dict[str, float]) -> dict[str, float]:
        s = self.schedule
        try:
            while step < s.total_steps:
                n = _next_stop(step, s) - step
                start = time.perf_counter()
                metrics = {k: float(v) for k, v in self.trainer.train(tf.constant(n)).items()}
                elapsed = time.perf_counter() - start
                self.train_seconds += elapsed
                step = int(self.trainer.step.numpy())
                bad = [k for k, v in metrics.items() if not math.isfinite(v)]
                if bad:
                    raise TrainingDiverged(
                        self._diverged(step, ", ".join(f"{k} is {metrics[k]}" for k in bad))
                    )
                metrics["images_per_second"] = n * s.images_per_step / elapsed
                metrics["steps_per_second"] = n / elapsed
                self._write("train", metrics, step)
                last.update(metrics)
                bar.update(n)
                bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k in self.SHOWN or "loss" in k})
                if self.evaluate and s.eval_every > 0 and step % s.eval_every == 0:
                    last.update(self._evaluate(step, bar))
                evaluated = s.eval_every > 0 and step % s.eval_every == 0
                if (s.save_every > 0 and step % s.save_every == 0) or (self.save_on_eval and evaluated):
                    self._save(step)
            if self.evaluate and (s.eval_every <= 0 or step % s.eval_every):
                last.update(self._evaluate(step, bar))
            self._save(step)
        except KeyboardInterrupt:
            step = int(self.trainer.step.numpy())
            with _signals_held():
                self._save(step)
            where = self.manager.directory if self.manager else "nowhere (no checkpoint manager)"
            bar.write(f"stopped at step {step}; checkpoint saved in {where}", file=sys.stderr)
            raise
        finally:
            bar.close()
            if self.writer is not None:
                self.writer.flush()
        return last

    def _evaluate(self, step: int, bar: tqdm) -> dict[str, float]:
        assert self.evaluate is not None
        scores = self.evaluate(step)
        self._write("eval", scores, step)
        if scores:
            minutes = f"{self.train_seconds / 60:.2f} min of training"
            bar.write(f"step {step} ({minutes}): " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        return {f"eval_{k}": v for k, v in scores.items()}
