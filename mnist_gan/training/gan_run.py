"""A whole GAN run: data, resume, scoring, logs and checkpoints around :class:`GanTrainer`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from mnist_gan import checkpoints, data, distribute, images, models, precision, record, scoring
from mnist_gan.config import GanConfig
from mnist_gan.errors import ConfigError
from mnist_gan.training.gan import GanTrainer, fixed_noise, gan_dataset
from mnist_gan.training.loop import Controller, Schedule, close_run, open_run

GRID_COLUMNS = 10


@dataclass(frozen=True)
class GanResult:
    """What a GAN run produced."""

    steps: int
    resumed_from: int
    skipped: list[str]
    changed: dict[str, tuple[object, object]]
    checkpoint: str
    log_dir: Path | None  # None on workers other than the chief
    scores: dict[str, float]
    fingerprint: str
    nothing_to_do: bool = False


def total_steps(cfg: GanConfig, train_size: int) -> int:
    """Generator steps to train to: ``--steps``, or ``--epochs`` passes over the data."""
    if cfg.epochs > 0:
        return max(1, math.ceil(cfg.epochs * train_size / (cfg.batch_size * cfg.crit_steps)))
    return cfg.steps


def _check(cfg: GanConfig, strategy: tf.distribute.Strategy, train_size: int) -> None:
    distribute.check_global_batch(cfg.batch_size, strategy)
    if cfg.batch_size > train_size:
        raise distribute.DistributionError(
            f"batch size {cfg.batch_size} exceeds the {train_size} training digits"
        )
    for key in ("steps", "crit_steps", "steps_per_call", "noise_dim", "gen_width", "critic_width"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{key} must be >= 1, got {getattr(cfg, key)}")
    if cfg.eval and cfg.eval_samples < 20:
        raise ConfigError(f"eval_samples must be >= 20, got {cfg.eval_samples}")


def grid_image(trainer: GanTrainer, noise: np.ndarray) -> np.ndarray:
    """A 10x10 uint8 grid: row d holds digit d, columns share their noise."""
    labels = np.repeat(np.arange(10, dtype=np.int32), GRID_COLUMNS)
    samples = trainer.generator_ema([noise, labels], training=False)
    grid = images.grid(data.from_model_range(samples), 10, GRID_COLUMNS)
    return images.label_rows(grid, [str(d) for d in range(10)], 28)


def train_gan(cfg: GanConfig, strategy: tf.distribute.Strategy) -> GanResult:
    """Train (or resume) the conditional WGAN-GP as ``cfg`` says."""
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    # Saved and compared on resume as what it resolved to: a run's config says what it used.
    cfg = cfg.replace(mixed_precision=precision.resolve(cfg.mixed_precision)[0])
    train_split, test_split = data.load(cfg.data_dir)
    _check(cfg, strategy, len(train_split))
    chief = distribute.is_chief(strategy)  # only the chief scores the samples
    classifier = checkpoints.load_classifier(cfg.classifier_dir) if cfg.eval and chief else None
    steps = total_steps(cfg, len(train_split))
    trainer = GanTrainer(cfg, strategy, steps)
    files = open_run(
        cfg,
        checkpoints.GAN_CONFIG,
        strategy,
        trainer.checkpoint,
        trainer.step,
        fingerprint=record.data_fingerprint(train_split.images, train_split.labels),
        total_steps=steps,
        length_flag="--epochs" if cfg.epochs > 0 else "--steps",
    )
    if files.nothing_to_do:
        return GanResult(
            steps=files.resumed_from,
            resumed_from=files.resumed_from,
            skipped=files.skipped,
            changed={},
            checkpoint=str(files.manager.latest_checkpoint),
            log_dir=None,
            scores={},
            fingerprint=distribute.fingerprint(trainer.models),
            nothing_to_do=True,
        )
    # The data stream is a function of (seed, batch number): start where the last run stopped.
    trainer.attach(gan_dataset(train_split, cfg, start_batch=trainer.batches_consumed))
    writer, log_dir = files.writer, files.log_dir

    grid_noise = np.tile(fixed_noise(cfg.seed, GRID_COLUMNS, cfg.noise_dim), (10, 1))
    scorer = None
    if classifier is not None:
        scorer = scoring.GeneratorScorer(
            scoring.Scorer(models.feature_extractor(classifier)),
            data.to_model_range(test_split.images).numpy(),
            data.to_model_range(train_split.images[: cfg.eval_samples]).numpy(),
            num_samples=cfg.eval_samples,
            noise_dim=cfg.noise_dim,
            seed=cfg.seed + 1,
        )
        if scorer.num_samples < cfg.eval_samples:
            print(
                f"note: scoring {scorer.num_samples} generated digits, not eval_samples "
                f"{cfg.eval_samples}: the FID floor compares as many real training digits"
            )
    sampler = trainer.sampler()

    progress: list[np.ndarray] = []
    # The best FID so far (kept across resumes in best/best.yaml) and a new best awaiting its save.
    best = {"fid": checkpoints.best_score(cfg.save_dir) if chief else None, "pending": None}

    def evaluate(step: int) -> dict[str, float]:
        assert writer is not None and log_dir is not None
        picture = grid_image(trainer, grid_noise)
        with writer.as_default(step=step):
            tf.summary.image("samples", picture[None, :, :, None], step=step)
        # The same grids as PNG, so learning can be seen without TensorBoard.
        images.save_png(log_dir / "samples" / f"step-{step:07d}.png", picture)
        progress.append(images.caption(picture, f"step {step:,}"))
        scores = scorer(sampler) if scorer is not None else {}
        fid = scores.get("fid")
        if fid is not None and math.isfinite(fid) and (best["fid"] is None or fid < best["fid"]):
            best["fid"], best["pending"] = fid, step
        return scores

    def on_save(step: int) -> None:
        if files.record is not None:
            files.record(step)
        if best["pending"] == step and best["fid"] is not None:
            checkpoints.keep_best(
                cfg.save_dir, str(files.manager.latest_checkpoint), step, float(best["fid"])
            )
            best["pending"] = None

    schedule = Schedule(
        total_steps=steps,
        steps_per_call=cfg.steps_per_call,
        save_every=cfg.save_every,
        eval_every=cfg.eval_every,
        images_per_step=cfg.batch_size * cfg.crit_steps,
    )
    controller = Controller(
        trainer,
        schedule,
        files.manager,
        writer,
        evaluate if chief else None,
        description="gan",
        on_save=on_save,
        save_on_eval=cfg.eval,
        progress=files.log_dir is not None,
    )
    try:
        scores = controller.run()
    finally:
        if progress and log_dir is not None:
            images.save_gif(log_dir / "progress.gif", np.stack(progress), frame_ms=400)
        close_run(strategy, files)
    return GanResult(
        steps=int(trainer.step.numpy()),
        resumed_from=files.resumed_from,
        skipped=files.skipped,
        changed=files.changed,
        checkpoint=str(files.manager.latest_checkpoint),
        log_dir=log_dir,
        scores=scores,
        fingerprint=distribute.fingerprint(trainer.models),
    )
