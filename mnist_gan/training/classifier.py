"""A classifier run, top to bottom: data, trainer and test accuracy, handed to the run skeleton."""

from __future__ import annotations

import tensorflow as tf

from mnist_gan.configs import ClassifierConfig
from mnist_gan.data import pipeline, sources
from mnist_gan.eval import features, metrics
from mnist_gan.runtime import distribute, record
from mnist_gan.training.classifier_trainer import ClassifierTrainer
from mnist_gan.training.loop import Actions, Schedule
from mnist_gan.training.run import RunPlan, RunResult, announce, run

# Training steps per tf.function call (and per progress-bar update).
STEPS_PER_CALL = 20


def summarise(scores: dict[str, float], steps: int) -> list[str]:
    """The classifier's last line: its accuracy on the real test images (only the chief scores)."""
    if "eval_test_accuracy" not in scores:
        return []
    return [f"test accuracy: {scores['eval_test_accuracy']:.2%} after {steps} steps"]


def train_classifier(cfg: ClassifierConfig, strategy: tf.distribute.Strategy) -> RunResult:
    """Train (or resume) the classifier as ``cfg`` says; save checkpoints, logs and config."""
    data = sources.load(cfg.data_dir, cfg.test_fraction, cfg.class_names)
    announce(data)
    train, test = data.splits
    distribute.check_batch(cfg.batch_size, strategy, len(train), "training images")
    steps_per_epoch = len(train) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    trainer = ClassifierTrainer(cfg, strategy, total, num_classes=data.num_classes)
    reader = features.ClassifierReader.of(trainer.model)
    test_images = pipeline.to_model_range(test.images).numpy()

    def test_accuracy(step: int) -> dict[str, float]:
        _, logits = reader.features_and_logits(test_images)
        return {"test_accuracy": metrics.accuracy(logits, test.labels)}

    plan = RunPlan(
        trainer=trainer,
        schedule=Schedule(
            total_steps=total,
            # Chunks, not epochs: the progress bar moves every few seconds even on full MNIST.
            steps_per_call=min(steps_per_epoch, STEPS_PER_CALL),
            save_every=steps_per_epoch,
            eval_every=steps_per_epoch,
            images_per_step=cfg.batch_size,
        ),
        data_fingerprint=record.data_fingerprint(train.images, train.labels),
        class_names=data.class_names,
        length_flag="--epochs",
        # One batch per step: the stream continues where the restored run stopped.
        dataset=lambda: pipeline.train_dataset(
            train, cfg.batch_size, cfg.seed, cfg.augment, start_batch=int(trainer.step.numpy())
        ),
        actions=lambda folder: Actions(evaluate=test_accuracy),
        summarise=summarise,
        description="classifier",
    )
    return run(cfg, strategy, plan)
