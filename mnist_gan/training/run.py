"""The one skeleton of every training run, and the one way its result is printed.

A run: open its folder (lock, refuse another run's folder, resume), feed the trainer from
where it stopped, drive it with the :class:`~mnist_gan.training.loop.Controller` and the
run's actions, release the folder, and return a :class:`RunResult`. The GAN and the
classifier differ only in the trainer, data, schedule and actions they hand to :func:`run`.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from mnist_gan.configs import RunConfig
from mnist_gan.data import sources
from mnist_gan.runtime import cli, distribute
from mnist_gan.runtime.errors import first_line
from mnist_gan.training.loop import Actions, Controller, Schedule, Trainer
from mnist_gan.training.run_folder import RunFolder, close_run, open_run


@dataclass(frozen=True)
class RunResult:
    """What a training run produced."""

    steps: int
    resumed_from: int
    skipped: list[str]
    checkpoint: str
    log_dir: Path | None  # None on workers other than the chief, and when there was nothing to do
    fingerprint: str  # of every weight: equal on every worker of a healthy multi-worker run
    scores: dict[str, float] = field(default_factory=dict)  # the last training and eval_* metrics
    changed: dict[str, tuple[object, object]] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)  # what the run's own lines say of the scores
    nothing_to_do: bool = False


@dataclass
class RunPlan:
    """What a training module hands to :func:`run`."""

    trainer: Trainer
    schedule: Schedule
    data_fingerprint: str
    class_names: list[str]  # recorded with the run: a resume on other classes is refused
    length_flag: str  # the flag that lengthens the run: --steps or --epochs
    dataset: Callable[[], tf.data.Dataset]  # the stream from where the restored trainer stopped
    actions: Callable[[RunFolder], Actions]  # built once the folder is open (the chief's log dir)
    summarise: Callable[[dict[str, float], int], list[str]]  # (last scores, steps) -> lines
    description: str


def run(cfg: RunConfig, strategy: tf.distribute.Strategy, plan: RunPlan) -> RunResult:
    """Train (or resume) one run as ``plan`` says."""
    trainer = plan.trainer
    folder = open_run(
        cfg,
        strategy,
        trainer.checkpoint,
        trainer.step,
        fingerprint=plan.data_fingerprint,
        classes=plan.class_names,
        total_steps=plan.schedule.total_steps,
        length_flag=plan.length_flag,
    )
    cli.release_output()  # every input is checked: what was printed on the way may show now
    if folder.nothing_to_do:
        return _result(folder, trainer, {}, [])
    actions, stopped = Actions(), True
    try:
        trainer.attach(plan.dataset())
        actions = plan.actions(folder) if folder.chief else actions
        if folder.record is not None:
            # Last: a failed copy into best/ (a full disk) leaves the record a save behind, so
            # the same command again owes that step its evaluation and copies it then.
            actions.after_save.append(folder.record)
        actions.after_eval.append(folder.note_evaluated)  # last: the evaluation has finished
        controller = Controller(
            trainer,
            plan.schedule,
            folder.manager,
            folder.writer,
            actions,
            description=plan.description,
            progress=folder.chief,
            evaluated_at=folder.evaluated,
        )
        scores = controller.run()
        stopped = False
    finally:
        try:
            for action in actions.at_end:
                try:
                    action()
                except Exception as e:
                    if not stopped:
                        raise
                    # A run stopped by an error (a full disk, say) reports that error, not the
                    # failure of its progress picture that the same cause brings: one line here.
                    print(f"warning: {first_line(e)}", file=sys.stderr)
        finally:
            close_run(strategy, folder)
    return _result(folder, trainer, scores, plan.summarise(scores, int(trainer.step.numpy())))


def _result(folder: RunFolder, trainer: Trainer, scores: dict[str, float], summary: list[str]) -> RunResult:
    return RunResult(
        steps=int(trainer.step.numpy()),
        resumed_from=folder.resumed_from,
        skipped=folder.skipped,
        checkpoint=str(folder.manager.latest_checkpoint),
        log_dir=folder.log_dir,
        fingerprint=distribute.fingerprint(trainer.models),
        scores=scores,
        changed=folder.changed,
        summary=summary,
        nothing_to_do=folder.nothing_to_do,
    )


def announce(data: sources.Dataset) -> None:
    """What a run says of its data before it trains: the classes and what was converted."""
    # A name holding a comma is quoted: 'a, b' would read as two classes.
    names = ", ".join(repr(name) if "," in name else name for name in data.class_names)
    print(
        f"data: {data.source}, {len(data.train):,} train and {len(data.test):,} test images, "
        f"{data.num_classes} classes: {names}"
    )
    for note in data.notes:
        print(f"note: {note}")


def print_result(result: RunResult, log_root: str) -> None:
    """What every training command prints at its end (resumes and skips were printed before)."""
    if result.nothing_to_do:
        return
    if result.log_dir is None:
        print(f"worker done at step {result.steps}; the chief keeps the checkpoints and logs")
        print(f"weights fingerprint: {result.fingerprint}")
        return
    print(f"checkpoint: {result.checkpoint}")
    print(f"weights fingerprint: {result.fingerprint}")
    print(f"logs: {result.log_dir}  (tensorboard --logdir {shlex.quote(str(log_root))})")
    for line in result.summary:
        print(line)
