"""The outer training loop, apart from the step (as TF Orbit's Controller is from its Trainer).

The loop decides how long to train and when to log, evaluate and checkpoint; the trainer
only runs ``n`` distributed steps per call and reports their mean metrics.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import keras
import tensorflow as tf
from tqdm import tqdm

from mnist_gan import checkpoints, config, distribute, runs
from mnist_gan.errors import TrainingDiverged


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
    log_dir: Path | None  # None on workers other than the chief
    writer: tf.summary.SummaryWriter | None
    resumed_from: int
    skipped: list[str]


def open_run(
    cfg: config.Config,
    config_name: str,
    strategy: tf.distribute.Strategy,
    checkpoint: tf.train.Checkpoint,
    step: tf.Variable,
) -> RunFiles:
    """Resume ``checkpoint`` from ``cfg.save_dir`` and open the run's folders.

    Every worker resumes from the chief's checkpoints (the newest that reads). Only the
    chief keeps checkpoints, the log folder and the config copies; other workers save to a
    temporary folder (saving is collective) that :func:`close_run` removes.
    """
    save_dir, log_root = Path(getattr(cfg, "save_dir")), Path(getattr(cfg, "log_dir"))  # noqa: B009
    chief = distribute.is_chief(strategy)
    if chief:
        runs.check_writable(save_dir, log_root)
    restored, skipped = checkpoints.restore_newest_good(
        checkpoint, tf.train.CheckpointManager(checkpoint, str(save_dir), max_to_keep=3)
    )
    own_dir = distribute.save_dir_for(strategy, save_dir)
    log_dir = runs.new_log_dir(log_root) if chief else None
    if log_dir is not None:
        runs.save_config(cfg, config_name, save_dir, log_dir)
    return RunFiles(
        manager=tf.train.CheckpointManager(checkpoint, str(own_dir), max_to_keep=3),
        own_dir=own_dir,
        log_dir=log_dir,
        writer=tf.summary.create_file_writer(str(log_dir)) if log_dir is not None else None,
        resumed_from=int(step.numpy()) if restored else 0,
        skipped=skipped,
    )


def close_run(strategy: tf.distribute.Strategy, files: RunFiles) -> None:
    """Remove a non-chief worker's temporary checkpoints."""
    distribute.cleanup(strategy, files.own_dir)


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
        progress: bool = True,
    ) -> None:
        self.trainer = trainer
        self.progress = progress
        self.schedule = schedule
        self.manager = manager
        self.writer = writer
        self.evaluate = evaluate
        self.description = description

    def _save(self, step: int) -> None:
        if self.manager is None or self.manager.latest_checkpoint == self._path_for(step):
            return
        bad = first_bad_weight(self.trainer.models)
        if bad is not None:
            raise TrainingDiverged(self._diverged(step, f"weight {bad} holds NaN or Inf"))
        self.manager.save(checkpoint_number=step)

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
                if s.save_every > 0 and step % s.save_every == 0:
                    self._save(step)
            if self.evaluate and (s.eval_every <= 0 or step % s.eval_every):
                last.update(self._evaluate(step, bar))
            self._save(step)
        except KeyboardInterrupt:
            step = int(self.trainer.step.numpy())
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
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        return {f"eval_{k}": v for k, v in scores.items()}
