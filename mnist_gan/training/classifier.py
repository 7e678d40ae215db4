"""Training the evaluator classifier: the distributed step and the run around it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from mnist_gan import checkpoints, data, distribute, evaluation, models, record, scoring
from mnist_gan.config import ClassifierConfig
from mnist_gan.training.loop import Controller, Schedule, close_run, open_run


class ClassifierTrainer:
    """Cross-entropy training of the classifier inside ``strategy``, ``n`` steps per call."""

    def __init__(
        self,
        cfg: ClassifierConfig,
        strategy: tf.distribute.Strategy,
        total_steps: int,
        dataset: tf.data.Dataset | None = None,
    ) -> None:
        self.strategy = strategy
        self.global_batch = cfg.batch_size
        with strategy.scope():
            keras.utils.set_random_seed(cfg.seed)
            self.model = models.build_classifier(cfg.width, cfg.feature_dim, cfg.dropout)
            schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, max(total_steps, 1))
            self.optimizer = keras.optimizers.Adam(schedule)
            # Built inside the scope before the first strategy.run, or Keras 3 fails there.
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.models = [self.model]
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, step=self.step)
        if dataset is not None:
            self.attach(dataset)

    def attach(self, dataset: tf.data.Dataset) -> None:
        """Feed the step from ``dataset`` (its global batches are split across replicas)."""
        self.iterator = distribute.distribute_dataset(self.strategy, dataset)

    def _replica_step(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            logits = self.model(images, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        correct = tf.reduce_sum(tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == labels, tf.float32))
        return loss, correct

    @tf.function
    def train(self, num_steps: tf.Tensor) -> dict[str, tf.Tensor]:
        """Run ``num_steps`` steps in one graph call; mean loss and accuracy over them."""
        total_loss = tf.constant(0.0)
        total_correct = tf.constant(0.0)
        for _ in tf.range(num_steps):
            loss, correct = self.strategy.run(self._replica_step, args=next(self.iterator))
            total_loss += self.strategy.reduce("SUM", loss, axis=None)
            total_correct += self.strategy.reduce("SUM", correct, axis=None)
        self.step.assign_add(tf.cast(num_steps, tf.int64))
        n = tf.cast(num_steps, tf.float32)
        return {"loss": total_loss / n, "accuracy": total_correct / (n * self.global_batch)}


@dataclass(frozen=True)
class ClassifierResult:
    """What a classifier run produced."""

    test_accuracy: float
    steps: int
    checkpoint: str
    log_dir: Path | None  # None on workers other than the chief
    resumed_from: int
    skipped: list[str]
    nothing_to_do: bool = False


# Training steps per tf.function call (and per progress-bar update).
STEPS_PER_CALL = 20


def train_classifier(cfg: ClassifierConfig, strategy: tf.distribute.Strategy) -> ClassifierResult:
    """Train (or resume) the classifier as ``cfg`` says; save checkpoints, logs and config."""
    train_split, test_split = data.load(cfg.data_dir)
    distribute.check_global_batch(cfg.batch_size, strategy)
    steps_per_epoch = len(train_split) // cfg.batch_size
    if steps_per_epoch < 1:
        raise distribute.DistributionError(
            f"batch size {cfg.batch_size} exceeds the {len(train_split)} training digits"
        )
    total = cfg.epochs * steps_per_epoch
    trainer = ClassifierTrainer(cfg, strategy, total)
    files = open_run(
        cfg,
        checkpoints.CLASSIFIER_CONFIG,
        strategy,
        trainer.checkpoint,
        trainer.step,
        fingerprint=record.data_fingerprint(train_split.images, train_split.labels),
        total_steps=total,
        length_flag="--epochs",
    )
    if files.nothing_to_do:
        return ClassifierResult(
            test_accuracy=float("nan"),
            steps=files.resumed_from,
            checkpoint=str(files.manager.latest_checkpoint),
            log_dir=None,
            resumed_from=files.resumed_from,
            skipped=files.skipped,
            nothing_to_do=True,
        )
    start = int(trainer.step.numpy())  # one batch per step: continue the stream from there
    trainer.attach(data.train_dataset(train_split, cfg.batch_size, cfg.seed, cfg.augment, start_batch=start))

    scorer = scoring.Scorer(models.feature_extractor(trainer.model))
    test_images = data.to_model_range(test_split.images).numpy()

    def test_accuracy() -> float:
        _, logits = scorer.features_and_logits(test_images)
        return evaluation.accuracy(logits, test_split.labels)

    def evaluate(step: int) -> dict[str, float]:
        return {"test_accuracy": test_accuracy()}

    schedule = Schedule(
        total_steps=total,
        # Chunks, not epochs: the progress bar moves every few seconds even on full MNIST.
        steps_per_call=min(steps_per_epoch, STEPS_PER_CALL),
        save_every=steps_per_epoch,
        eval_every=steps_per_epoch,
        images_per_step=cfg.batch_size,
    )
    chief = files.log_dir is not None
    controller = Controller(
        trainer,
        schedule,
        files.manager,
        files.writer,
        evaluate if chief else None,
        description="classifier",
        on_save=files.record,
        progress=chief,
    )
    try:
        last = controller.run()
    finally:
        close_run(strategy, files)
    # The loop scored the final step already, unless this run had nothing left to train.
    final = last["eval_test_accuracy"] if "eval_test_accuracy" in last else test_accuracy()
    return ClassifierResult(
        test_accuracy=final,
        steps=int(trainer.step.numpy()),
        checkpoint=str(files.manager.latest_checkpoint),
        log_dir=files.log_dir,
        resumed_from=files.resumed_from,
        skipped=files.skipped,
    )


__all__ = ["ClassifierResult", "ClassifierTrainer", "train_classifier"]
