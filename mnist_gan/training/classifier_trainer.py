"""The classifier's distributed step: cross-entropy training inside a ``tf.distribute`` strategy."""

from __future__ import annotations

import keras
import tensorflow as tf

from mnist_gan.configs import ClassifierConfig
from mnist_gan.models import networks
from mnist_gan.runtime import distribute


class ClassifierTrainer:
    """Cross-entropy training of the classifier inside ``strategy``, ``n`` steps per call."""

    shown: tuple[str, ...] = ("loss", "accuracy")

    def __init__(
        self,
        cfg: ClassifierConfig,
        strategy: tf.distribute.Strategy,
        total_steps: int,
        dataset: tf.data.Dataset | None = None,
        num_classes: int = networks.DIGIT_CLASSES,
    ) -> None:
        self.strategy = strategy
        self.global_batch = cfg.batch_size
        with strategy.scope():
            keras.utils.set_random_seed(cfg.seed)
            self.model = networks.build_classifier(cfg.width, cfg.feature_dim, cfg.dropout, num_classes)
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

    def settle(self) -> None:
        """Nothing to do: no state is derived from the weights."""

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
