"""The outer training loop, apart from the step (as TF Orbit's Controller is from its Trainer).

The loop decides how long to train and when to log, evaluate and checkpoint, and calls the
run's actions at those moments; the trainer only runs ``n`` distributed steps per call and
reports their mean metrics.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import keras
import tensorflow as tf

from mnist_gan.runtime import checkpoints, cli, progress
from mnist_gan.runtime.errors import CheckpointError, TrainingDiverged, first_line, os_reason
from mnist_gan.training.signals import signals_deferred, signals_held, stop_on_sigterm


class Steps(Protocol):
    """What the loop drives: a step counter, the models, a call that runs ``n`` steps, and
    one that brings state derived from the weights up to date before the loop reads them
    (evaluation, checkpoint)."""

    step: tf.Variable
    models: list[keras.Model]

    def train(self, num_steps: tf.Tensor) -> dict[str, tf.Tensor]: ...

    def settle(self) -> None: ...


class Trainer(Steps, Protocol):
    """What a run hands the loop: :class:`Steps` that can be saved and fed from a dataset."""

    checkpoint: tf.train.Checkpoint
    shown: tuple[str, ...]  # the metrics the progress bar shows

    def attach(self, dataset: tf.data.Dataset) -> None: ...


@dataclass
class Schedule:
    """How long to train and the intervals (in steps) of the loop's duties."""

    total_steps: int
    steps_per_call: int
    save_every: int
    eval_every: int
    images_per_step: int
    save_on_eval: bool = False  # every worker knows the schedule: saving stays collective


@dataclass
class Actions:
    """What the run does at the loop's moments (Orbit's eval and train actions).

    ``evaluate`` returns metrics and nothing else; ``after_eval`` gets them (pictures, the
    best score so far); ``after_save`` runs once a checkpoint of that step is written;
    ``at_end`` once training stops, however it stops (the run calls those).
    """

    evaluate: Callable[[int], dict[str, float]] | None = None
    after_eval: list[Callable[[int, dict[str, float]], None]] = field(default_factory=list)
    after_save: list[Callable[[int], None]] = field(default_factory=list)
    at_end: list[Callable[[], None]] = field(default_factory=list)


def first_bad_weight(models: list[keras.Model]) -> str | None:
    """The path of the first variable holding NaN or Inf, or None."""
    for model in models:
        for variable in model.variables:
            if not bool(tf.reduce_all(tf.math.is_finite(tf.cast(variable.value, tf.float32)))):
                return str(variable.path)
    return None


def _next_stop(step: int, schedule: Schedule) -> int:
    """The nearest step at which the loop must stop to log, save, evaluate or finish."""
    stops = [schedule.total_steps, step + schedule.steps_per_call]
    for every in (schedule.save_every, schedule.eval_every):
        if every > 0:
            stops.append((step // every + 1) * every)
    return min(stops)


def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


class Controller:
    """Runs a :class:`Trainer` to ``total_steps`` with summaries, evaluation and checkpoints."""

    def __init__(
        self,
        trainer: Steps,
        schedule: Schedule,
        manager: tf.train.CheckpointManager | None,
        writer: tf.summary.SummaryWriter | None,
        actions: Actions | None = None,
        description: str = "train",
        progress: bool = True,
        evaluated_at: int | None = None,
    ) -> None:
        self.trainer = trainer
        self.schedule = schedule
        self.manager = manager
        self.writer = writer
        self.actions = actions or Actions()
        self.description = description
        self.progress = progress
        # The metrics the progress bar shows: the trainer says which.
        self.shown: tuple[str, ...] = ("images_per_second", *getattr(trainer, "shown", ()))
        # Seconds spent in training steps in this process (no evaluation, saving or start-up):
        # what "time to quality" is measured in.
        self.train_seconds = 0.0
        # The last step whose evaluation finished (a resumed run's record says which): a step
        # an interrupt saved before its due evaluation ran is evaluated before training on.
        self.evaluated_at = evaluated_at
        self._restored_at: int | None = None  # set by run(): the step training starts from
        self._saved_at: int | None = None  # the last step this run saved
        self._scored_at: int | None = None  # the last step this run's evaluation gave scores for

    def run(self) -> dict[str, float]:
        """Train to the end of the schedule; return the last training and eval metrics."""
        step = int(self.trainer.step.numpy())
        bar = progress.bar(
            total=self.schedule.total_steps,
            initial=step,
            desc=self.description,
            unit="step",
            disable=not self.progress,  # one bar per cluster: the chief's
        )
        cli.note_training()
        with stop_on_sigterm():
            return self._run(step, bar)

    def _run(self, step: int, bar: progress.Progress) -> dict[str, float]:
        s, last = self.schedule, dict[str, float]()
        # A resumed run's first step is the checkpoint it restored: never saved again. Every
        # worker knows it (only the chief's manager holds that checkpoint, and saving is
        # collective: one worker saving alone would wait for the others forever).
        self._restored_at = step if step > 0 else None
        try:
            if self._owed(step):
                bar.write(
                    f"note: step {step} was saved by an interrupt before its evaluation ran: evaluating it"
                )
                last.update(self._evaluate(step, bar))
                self._after_save(step)  # its record and best/, as the save after it would have
            while step < s.total_steps:
                step = self._train_chunk(step, bar, last)
                evaluated = _due(step, s.eval_every)
                if evaluated:
                    last.update(self._evaluate(step, bar))
                if _due(step, s.save_every) or (s.save_on_eval and evaluated):
                    self._save(step)
            if self.evaluated_at != step:
                last.update(self._evaluate(step, bar))
                if self._saved_at == step:  # saved before it was scored (a save step, not a score step)
                    self._after_save(step)  # the record learns of the score, best/ of a new best
            self._save(step)
            self._note_if_finished(step)
        except KeyboardInterrupt:
            stopped = int(self.trainer.step.numpy())
            bar.update(stopped - step)  # the chunk the signal cut short still trained
            step = stopped
            with signals_held():
                self._save(step)
            self._note_if_finished(step)  # a signal held through the last save: nothing is left
            where = self.manager.directory if self.manager else "nowhere (no checkpoint manager)"
            bar.write(f"stopped at step {step}; checkpoint saved in {where}", file=sys.stderr)
            raise
        finally:
            bar.close()
            if self.writer is not None:
                self.writer.flush()
        return last

    def _note_if_finished(self, step: int) -> None:
        """Tell the command line the run is over if ``step`` is its last, saved and, if the run
        evaluates, evaluated: an interrupt from now on has nothing to resume."""
        over = step >= self.schedule.total_steps and self.manager is not None
        if over and (self.actions.evaluate is None or self.evaluated_at == step):
            scored = " and scored" if self._scored_at == step else ""
            cli.note_finished(f"step {step} is saved{scored}")

    def _train_chunk(self, step: int, bar: progress.Progress, last: dict[str, float]) -> int:
        """Train to the next stop; log the chunk's metrics; return the new step."""
        n = _next_stop(step, self.schedule) - step
        start = time.perf_counter()
        metrics = {k: float(v) for k, v in self.trainer.train(tf.constant(n)).items()}
        elapsed = time.perf_counter() - start
        self.train_seconds += elapsed
        step = int(self.trainer.step.numpy())
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(self._diverged(step, ", ".join(f"{k} is {metrics[k]}" for k in bad)))
        metrics["images_per_second"] = n * self.schedule.images_per_step / elapsed
        metrics["steps_per_second"] = n / elapsed
        self._write("train", metrics, step)
        last.update(metrics)
        bar.update(n)
        bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k in self.shown})
        return step

    def _owed(self, step: int) -> bool:
        """Whether ``step``, where training resumes, is owed an evaluation (see ``evaluated_at``)."""
        due = step >= self.schedule.total_steps or _due(step, self.schedule.eval_every)
        return due and self.evaluated_at is not None and self.evaluated_at < step

    def _evaluate(self, step: int, bar: progress.Progress) -> dict[str, float]:
        if self.actions.evaluate is None:
            return {}
        self.trainer.settle()
        scores = self.actions.evaluate(step)
        # The evaluation (minutes) can be cut short and is then owed; what follows it (seconds:
        # pictures, best/, the record's note that the step was evaluated) finishes together with
        # the loop's own note, so an interrupt's line and the record agree on what is owed.
        with signals_deferred():
            self._write("eval", scores, step)
            for action in self.actions.after_eval:
                action(step, scores)
            self.evaluated_at = step
            if scores:
                self._scored_at = step
        if scores:
            minutes = f"{self.train_seconds / 60:.2f} min of training"
            bar.write(f"step {step} ({minutes}): " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        return {f"eval_{k}": v for k, v in scores.items()}

    def _save(self, step: int) -> None:
        """Checkpoint ``step`` (unless it is saved already) and run the actions after a save."""
        if self.manager is None or step == self._restored_at:
            return
        if self.manager.latest_checkpoint == checkpoints.path_at(self.manager, step):
            return
        self.trainer.settle()
        bad = first_bad_weight(self.trainer.models)
        if bad is not None:
            raise TrainingDiverged(self._diverged(step, f"weight {bad} holds NaN or Inf"))
        with signals_deferred():
            try:
                self.manager.save(checkpoint_number=step)
            except (tf.errors.OpError, OSError) as e:
                raise self._save_failed(step, e) from e
            self._saved_at = step
            cli.note_checkpoint()
            for action in self.actions.after_save:
                action(step)

    def _after_save(self, step: int) -> None:
        """The actions after a save of ``step``, whose checkpoint is there already."""
        with signals_deferred():
            for action in self.actions.after_save:
                action(step)

    def _save_failed(self, step: int, error: Exception) -> CheckpointError:
        """Remove the partial save; say which path failed and which checkpoint is still good."""
        assert self.manager is not None
        path = Path(checkpoints.path_at(self.manager, step))
        for partial in path.parent.glob(f"{path.name}_temp*"):
            shutil.rmtree(partial, ignore_errors=True)
        for partial in path.parent.glob(f"{path.name}.*"):
            partial.unlink(missing_ok=True)
        reason = getattr(error, "strerror", None) or os_reason(error) or first_line(error)
        kept = self.manager.latest_checkpoint or "none"
        return CheckpointError(
            f"{path}: cannot write the checkpoint ({reason}); the newest good checkpoint "
            f"is {kept}; free some space (or fix the permissions) and run the same command again"
        )

    def _diverged(self, step: int, what: str) -> str:
        kept = self.manager.latest_checkpoint if self.manager else None
        return (
            f"training diverged at step {step}: {what}; stopped without saving it "
            f"(last good checkpoint: {kept or 'none'}); lower the learning rates and resume"
        )

    def _write(self, prefix: str, metrics: dict[str, float], step: int) -> None:
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            for name, value in metrics.items():
                tf.summary.scalar(f"{prefix}/{name}", value)
