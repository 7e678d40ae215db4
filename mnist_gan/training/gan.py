"""A GAN run, top to bottom: data, trainer, scores and pictures, handed to the run skeleton."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from mnist_gan import pictures
from mnist_gan.configs import GanConfig
from mnist_gan.data import pipeline, sources
from mnist_gan.eval import features, generator_scorer
from mnist_gan.models import networks
from mnist_gan.runtime import checkpoints, distribute, precision, process, record
from mnist_gan.training.gan_inputs import gan_dataset
from mnist_gan.training.gan_trainer import GanTrainer
from mnist_gan.training.loop import Actions, Schedule
from mnist_gan.training.run import RunPlan, RunResult, announce, run
from mnist_gan.training.run_folder import WITHOUT_SCORES, RunFolder

GRID_COLUMNS = 10


def total_steps(cfg: GanConfig, train_size: int) -> int:
    """Generator steps to train to: ``--steps``, or ``--epochs`` passes over the data."""
    if cfg.epochs > 0:
        return max(1, math.ceil(cfg.epochs * train_size / (cfg.batch_size * cfg.crit_steps)))
    return cfg.steps


def length_note(cfg: GanConfig, steps: int, train_size: int = 0) -> str | None:
    """What a run says when ``--epochs`` sets its length over a ``--steps`` also given, or
    asks for less than one step (of ``train_size`` training images) trains."""
    from mnist_gan.runtime.config import defaults

    if cfg.epochs > 0 and cfg.steps != defaults(GanConfig).steps:
        return (
            f"note: --epochs {cfg.epochs:g} sets the length ({steps:,} steps); --steps {cfg.steps} is unused"
        )
    per_step = cfg.batch_size * cfg.crit_steps
    if cfg.epochs > 0 and steps == 1 and train_size and cfg.epochs * train_size < per_step / 2:
        passes = per_step / train_size
        return (
            f"note: --epochs {cfg.epochs:g} is less than a step: the run's length is 1 step of "
            f"{per_step:,} images ({passes:.2g} pass{'es' if passes > 1 else ''} over the "
            f"{train_size:,} training images)"
        )
    return None


def grid_image(trainer: GanTrainer, noise: np.ndarray, class_names: list[str]) -> np.ndarray:
    """A uint8 grid, one row per class labelled with its name; columns share their noise."""
    rows = len(class_names)
    labels = np.repeat(np.arange(rows, dtype=np.int32), GRID_COLUMNS)
    samples = trainer.generator_ema([np.tile(noise, (rows, 1)), labels], training=False)
    grid = pictures.grid(pipeline.from_model_range(samples), rows, GRID_COLUMNS)
    return pictures.label_rows(grid, class_names, 28)


class ProgressPictures:
    """At each evaluation: the grid as a TensorBoard image and a PNG; at the end, progress.gif."""

    def __init__(
        self, trainer: GanTrainer, cfg: GanConfig, folder: RunFolder, class_names: list[str]
    ) -> None:
        assert folder.log_dir is not None and folder.writer is not None
        self.trainer, self.log_dir, self.writer = trainer, folder.log_dir, folder.writer
        self.noise = networks.fixed_noise(cfg.seed, GRID_COLUMNS, cfg.noise_dim)
        self.class_names = class_names
        self.frames: list[np.ndarray] = []

    def __call__(self, step: int, scores: dict[str, float]) -> None:
        picture = grid_image(self.trainer, self.noise, self.class_names)
        with self.writer.as_default(step=step):
            tf.summary.image("samples", picture[None, :, :, None], step=step)
        # The same grids as PNG, so learning can be seen without TensorBoard.
        pictures.save_png(self.log_dir / "samples" / f"step-{step:07d}.png", picture)
        self.frames.append(pictures.caption(picture, f"step {step:,}"))

    def write_gif(self) -> None:
        if self.frames:
            pictures.save_gif(self.log_dir / "progress.gif", np.stack(self.frames), frame_ms=400)


class BestCheckpoint:
    """Keeps a copy of the checkpoint with the lowest FID so far in ``best/`` (across resumes)."""

    def __init__(self, save_dir: str, manager: tf.train.CheckpointManager, scoring: str) -> None:
        self.save_dir, self.manager, self.scoring = save_dir, manager, scoring
        # A best scored another way (another sample size; before 2026-12-05, every class
        # asked equally often) does not compare: the first score of this run replaces it.
        self.fid = checkpoints.best_score(save_dir, scoring)
        replaced = checkpoints.best_read_otherwise(save_dir, scoring) if self.fid is None else None
        if replaced is not None:  # a classifier retrained between resumes, say: said, not silent
            print(f"note: {replaced}")
        self.pending: int | None = None  # a new best awaiting its checkpoint

    def scored(self, step: int, scores: dict[str, float]) -> None:
        fid = scores.get("fid")
        if fid is not None and math.isfinite(fid) and (self.fid is None or fid < self.fid):
            self.fid, self.pending = fid, step

    def saved(self, step: int) -> None:
        if self.pending == step and self.fid is not None:
            checkpoints.keep_best(
                self.save_dir, str(self.manager.latest_checkpoint), step, self.fid, self.scoring
            )
            self.pending = None


def _scorer(
    cfg: GanConfig, data: sources.Dataset, fingerprint: str
) -> tuple[generator_scorer.GeneratorScorer, list[str]]:
    """FID, its floor and accuracy of ``eval_samples`` generated images, by the trained
    classifier; and the notes to print if the run trains (not if it has nothing left to do)."""
    train = features.train_one(cfg.data_dir, cfg.class_names, cfg.test_fraction)
    classifier = features.load_classifier(
        cfg.classifier_dir, data.class_names, without=WITHOUT_SCORES, train=train
    )
    other_data = features.other_data_note(cfg.classifier_dir, fingerprint)
    notes = [other_data] if other_data else []
    scorer = generator_scorer.GeneratorScorer(
        features.ClassifierReader.of(classifier),
        pipeline.to_model_range(data.test.images).numpy(),
        (pipeline.to_model_range(data.train.images[: cfg.eval_samples]).numpy(), data.train.labels),
        num_samples=cfg.eval_samples,
        noise_dim=cfg.noise_dim,
        seed=cfg.seed + 1,
        num_classes=data.num_classes,
    )
    if scorer.num_samples < cfg.eval_samples:
        notes.append(
            f"scoring {scorer.num_samples} generated digits, not eval_samples "
            f"{cfg.eval_samples}: the FID floor compares as many real training digits"
        )
    return scorer, notes


def summarise(scores: dict[str, float], steps: int) -> list[str]:
    """The GAN's last line: how well its digits are recognised, and their FID."""
    if "eval_accuracy" not in scores:
        return []
    return [
        f"generated digits recognised as asked: {scores['eval_accuracy']:.2%}; "
        f"FID {scores['eval_fid']:.3f} (real-data floor {scores['eval_fid_floor']:.3f})"
    ]


def train_gan(cfg: GanConfig, strategy: tf.distribute.Strategy) -> RunResult:
    """Train (or resume) the conditional WGAN-GP as ``cfg`` says."""
    process.configure_tensorflow(deterministic=cfg.deterministic, gradient_penalty=True)
    # Saved and compared on resume as what it resolved to: a run's config says what it used.
    cfg = cfg.replace(mixed_precision=precision.resolve(cfg.mixed_precision)[0])
    data = sources.load(cfg.data_dir, cfg.test_fraction, cfg.class_names)
    announce(data)
    train = data.train
    per_replica = distribute.check_batch(cfg.batch_size, strategy, len(train), "training images")
    distribute.check_groups(per_replica, cfg.critic_stddev_group, "--critic-stddev-group")
    if cfg.gen_mode_seeking > 0:
        distribute.check_pairs(per_replica, strategy.num_replicas_in_sync, "--gen-mode-seeking")
    fingerprint = record.data_fingerprint(train.images, train.labels)
    # Only the chief scores; the classifier is loaded first, so a missing one stops the run early
    # (but not where the folder's run is on other data: its refusal says what to do).
    scoring = cfg.eval and distribute.is_chief(strategy)
    scoring = scoring and not record.other_data(cfg, cfg.save_dir, fingerprint, data.class_names)
    scorer, scorer_notes = _scorer(cfg, data, fingerprint) if scoring else (None, [])
    steps = total_steps(cfg, len(train))
    note = length_note(cfg, steps, len(train))
    if note is not None:
        print(note)
    trainer = GanTrainer(cfg, strategy, steps, num_classes=data.num_classes)

    def actions(folder: RunFolder) -> Actions:  # the chief's, once its folders are open
        for line in scorer_notes:
            print(f"note: {line}")
        shown = ProgressPictures(trainer, cfg, folder, data.class_names)
        best = BestCheckpoint(cfg.save_dir, folder.manager, scorer.scoring if scorer is not None else "")
        sampler = trainer.sampler()
        return Actions(
            evaluate=(lambda step: scorer(sampler)) if scorer is not None else (lambda step: {}),
            after_eval=[shown, best.scored],
            after_save=[best.saved],
            at_end=[shown.write_gif],
        )

    plan = RunPlan(
        trainer=trainer,
        schedule=Schedule(
            total_steps=steps,
            steps_per_call=cfg.steps_per_call,
            save_every=cfg.save_every,
            eval_every=cfg.eval_every,
            images_per_step=cfg.batch_size * cfg.crit_steps,
            save_on_eval=cfg.eval,
        ),
        data_fingerprint=fingerprint,
        class_names=data.class_names,
        length_flag="--epochs" if cfg.epochs > 0 else "--steps",
        # The data stream is a function of (seed, batch number): start where the last run stopped.
        dataset=lambda: gan_dataset(train, cfg, trainer.batches_consumed, data.num_classes),
        actions=actions,
        summarise=summarise,
        description="gan",
    )
    return run(cfg, strategy, plan)
