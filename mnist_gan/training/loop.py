"""The outer training loop, apart from the step (as TF Orbit's Controller is from its Trainer).

The loop decides how long to train and when to log, evaluate and checkpoint; the trainer
only runs ``n`` distributed steps per call and reports their mean metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import tensorflow as tf
from tqdm import tqdm


class Trainer(Protocol):
    """What the loop drives: a step counter and a call that runs ``n`` steps."""

    step: tf.Variable

    def train(self, num_steps: tf.Tensor) -> dict[str, tf.Tensor]: ...


@dataclass
class Schedule:
    """How long to train and the intervals (in steps) of the loop's duties."""

    total_steps: int
    steps_per_call: int
    save_every: int
    eval_every: int
    images_per_step: int


def _next_stop(step: int, schedule: Schedule) -> int:
    """The nearest step at which the loop must stop to log, save, evaluate or finish."""
    stops = [schedule.total_steps, step + schedule.steps_per_call]
    for every in (schedule.save_every, schedule.eval_every):
        if every > 0:
            stops.append((step // every + 1) * every)
    return min(stops)


class Controller:
    """Runs a :class:`Trainer` to ``total_steps`` with summaries, evaluation and checkpoints."""

    def __init__(
        self,
        trainer: Trainer,
        schedule: Schedule,
        manager: tf.train.CheckpointManager | None,
        writer: tf.summary.SummaryWriter | None,
        evaluate: Callable[[int], dict[str, float]] | None = None,
        description: str = "train",
    ) -> None:
        self.trainer = trainer
        self.schedule = schedule
        self.manager = manager
        self.writer = writer
        self.evaluate = evaluate
        self.description = description

    def _save(self, step: int) -> None:
        if self.manager is not None and self.manager.latest_checkpoint != self._path_for(step):
            self.manager.save(checkpoint_number=step)

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
        bar = tqdm(total=s.total_steps, initial=step, desc=self.description, unit="step", dynamic_ncols=True)
        try:
            while step < s.total_steps:
                n = _next_stop(step, s) - step
                start = time.perf_counter()
                metrics = {k: float(v) for k, v in self.trainer.train(tf.constant(n)).items()}
                elapsed = time.perf_counter() - start
                step = int(self.trainer.step.numpy())
                metrics["images_per_second"] = n * s.images_per_step / elapsed
                metrics["steps_per_second"] = n / elapsed
                self._write("train", metrics, step)
                last.update(metrics)
                bar.update(n)
                bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k != "steps_per_second"})
                if self.evaluate and s.eval_every > 0 and step % s.eval_every == 0:
                    last.update(self._evaluate(step, bar))
                if s.save_every > 0 and step % s.save_every == 0:
                    self._save(step)
            if self.evaluate and (s.eval_every <= 0 or step % s.eval_every):
                last.update(self._evaluate(step, bar))
            self._save(step)
        except KeyboardInterrupt:
            self._save(int(self.trainer.step.numpy()))
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
        bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        return {f"eval_{k}": v for k, v in scores.items()}
