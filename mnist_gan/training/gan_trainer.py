"""The distributed WGAN-GP step: ``crit_steps`` critic updates, then one generator update.

All randomness (noise, labels asked of the generator, interpolation weights, augmentations)
comes from the input pipeline (:mod:`.gan_inputs`), not from ops inside the step: the same
global batch then gives the same update on 1 or N replicas, and the data position alone
fixes what comes next. After every generator update the generator's weight average follows
(:mod:`.ema`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from mnist_gan.configs import GanConfig
from mnist_gan.models import augment, losses, networks
from mnist_gan.runtime import checkpoints, distribute, precision
from mnist_gan.training import adaptive, optimizers
from mnist_gan.training.ema import WeightAverage

# Noise and labels the averaged generator's batch-norm statistics are computed from.
STATISTICS_SAMPLES = 1000


class GanTrainer:
    """Generator, critic, their optimizers, the step counter and, adapted, the augmentation's
    probability, trained inside ``strategy``."""

    shown: tuple[str, ...] = ("critic_loss", "generator_loss", *losses.REPORTED, "augment_p")

    def __init__(
        self,
        cfg: GanConfig,
        strategy: tf.distribute.Strategy,
        total_steps: int,
        dataset: tf.data.Dataset | None = None,
        num_classes: int = networks.DIGIT_CLASSES,
    ) -> None:
        self.cfg = cfg
        self.num_classes = num_classes
        self.strategy = strategy
        self.global_batch = cfg.batch_size
        # "auto" resolves here too, so a trainer built from the defaults runs as train.py would.
        self.precision, _ = precision.resolve(cfg.mixed_precision)
        with strategy.scope(), precision.policy(self.precision):
            keras.utils.set_random_seed(cfg.seed)
            self.generator = networks.generator_for(cfg, num_classes)
            self.critic = networks.critic_for(cfg, num_classes)
            self._critic_and_features = networks.critic_with_features(self.critic)
            scaling = self.precision == "float16"  # bfloat16 has float32's exponent range
            self.gen_opt = optimizers.adam(
                cfg, cfg.gen_lr, total_steps, 1, scaling, cfg.gen_lr_early_factor, cfg.gen_lr_early_steps
            )
            self.critic_opt = optimizers.adam(cfg, cfg.critic_lr, total_steps, cfg.crit_steps, scaling)
            # Built in the scope before the first strategy.run, or Keras 3 fails there.
            self.gen_opt.build(self.generator.trainable_variables)
            self.critic_opt.build(self.critic.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.augmentation = adaptive.AugmentProbability(cfg)
            # Sampled from, never trained; float32 whatever the training precision, so the
            # in-training scores are those of the model generate.py and evaluate.py draw from.
            with precision.policy("off"):
                self.generator_ema = networks.generator_for(cfg, num_classes)
        self.ema = WeightAverage(
            self.generator,
            self.generator_ema,
            cfg.ema_decay,
            _statistics_inputs(cfg.seed, cfg.noise_dim, num_classes),
        )
        self.ema.copy_weights()
        self._refresh = tf.function(self.ema.refresh_statistics)
        self._settled_at = -1  # the step whose statistics the average holds; -1: not yet known
        self.models = [self.generator, self.critic, self.generator_ema]
        self.checkpoint = _GanCheckpoint(
            generator=self.generator,
            critic=self.critic,
            gen_opt=self.gen_opt,
            critic_opt=self.critic_opt,
            step=self.step,
            generator_ema=self.generator_ema,
            # An adapted probability resumes where it was; a fixed one is the config's.
            **(
                {"augment_p": self.augmentation.p, "augment_p_start": self.augmentation.start}
                if self.augmentation.adaptive
                else {}
            ),
        )
        self.checkpoint.after_restore = self.augmentation.restart_if_given_anew
        if dataset is not None:
            self.attach(dataset)

    def attach(self, dataset: tf.data.Dataset) -> None:
        """Feed the step from ``dataset`` (its global batches are split across replicas)."""
        self.iterator = distribute.distribute_dataset(self.strategy, dataset)

    @property
    def batches_consumed(self) -> int:
        """Input batches used so far: where a resumed run's data stream starts."""
        return int(self.step.numpy()) * self.cfg.crit_steps

    def _loss_scale(self, opt: keras.optimizers.Optimizer) -> tf.Tensor | float:
        if isinstance(opt, keras.optimizers.LossScaleOptimizer):
            return tf.cast(opt.dynamic_scale, tf.float32)
        return 1.0

    @staticmethod
    def _scaled(opt: keras.optimizers.Optimizer, loss: tf.Tensor) -> tf.Tensor:
        """``loss`` as ``opt`` differentiates it: times the loss scale under float16. Call it
        inside the tape: a scaling the tape does not record leaves every gradient None."""
        return opt.scale_loss(loss) if isinstance(opt, keras.optimizers.LossScaleOptimizer) else loss

    def _apply(
        self, opt: keras.optimizers.Optimizer, tape: tf.GradientTape, scaled: tf.Tensor, model: keras.Model
    ) -> None:
        grads = tape.gradient(scaled, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)

    def critic_update(
        self, batch: dict[str, tf.Tensor], update: tf.Tensor, p: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        """Critic update number ``update`` (from 0) on this replica's share of ``batch``, its
        augmentations at probability ``p`` (None: the trainer's); global-mean metrics."""
        labels = batch["labels"]
        real = self.augmentation.apply(batch["images"], batch["aug_real"], self._chance(batch, "real"), p)
        fake = self.generator([batch["noise"], labels], training=True)
        fake = tf.cast(fake, real.dtype)
        fake = self.augmentation.apply(fake, batch["aug_fake"], self._chance(batch, "fake"), p)
        points = losses.interpolate(real, fake, batch["alpha"])
        scale = self._loss_scale(self.critic_opt)
        consistency = self.cfg.critic_consistency > 0
        parts = [real, fake]
        if consistency:
            parts += [
                augment.translate(real, batch["cr_real"][:, :2]),
                augment.translate(fake, batch["cr_fake"][:, :2]),
            ]
        with tf.GradientTape() as tape:
            scores = self.critic([tf.concat(parts, 0), tf.tile(labels, [len(parts)])], training=True)
            real_scores, fake_scores, *shifted = tf.split(scores, len(parts))
            if self.cfg.gp_every == 1:
                # Its own forward pass: in one batch with the scores above, the input gradient
                # would be computed over every part of it (measured slower: docs/tuning.md).
                gp = losses.gradient_penalty(
                    lambda x: self.critic([x, labels], training=True), points, scale, self.cfg.gp_center
                )
            else:
                gp = self._lazy_penalty(update, points, labels, scale)
            wloss = losses.critic_loss(real_scores, fake_scores)
            per_example = wloss + self.cfg.gp_weight * gp
            if consistency:
                cr = losses.consistency(real_scores, shifted[0]) + losses.consistency(fake_scores, shifted[1])
                per_example += self.cfg.critic_consistency * cr
            loss = self._average(per_example)
            scaled = self._scaled(self.critic_opt, loss)
        self._apply(self.critic_opt, tape, scaled, self.critic)
        metrics = {"critic_loss": loss, "gradient_penalty": self._average(gp)}
        metrics.update({k: self._average(v) for k, v in losses.reported(real_scores, fake_scores).items()})
        if consistency:
            metrics["consistency"] = self._average(cr)
        if self.augmentation.adaptive:
            metrics["augment_signal"] = self._average(adaptive.signal(real_scores, fake_scores))
        return metrics

    def _chance(self, batch: dict[str, tf.Tensor], part: str) -> tf.Tensor | None:
        """Each digit's chances of augmentation in ``batch`` for ``part`` (real, fake, gen),
        where the probability needs them (a batch without them then fails loudly)."""
        return batch[f"aug_{part}_chance"] if self.augmentation.partial else None

    def _lazy_penalty(
        self, update: tf.Tensor, points: tf.Tensor, labels: tf.Tensor, scale: tf.Tensor | float
    ) -> tf.Tensor:
        """The penalty on every ``gp_every``-th critic update, ``gp_every`` times as heavy;
        zeros on the others (lazy regularisation, Karras et al. 2020)."""
        every = self.cfg.gp_every

        def penalty() -> tf.Tensor:
            # training=False: the caller's forward pass ran this update's power iteration, and
            # a variable assigned inside a conditional cannot be synchronised across replicas.
            critic_fn = lambda x: self.critic([x, labels], training=False)  # noqa: E731
            return every * losses.gradient_penalty(critic_fn, points, scale, self.cfg.gp_center)

        return tf.cond(update % every == 0, penalty, lambda: tf.zeros(tf.shape(labels)[:1]))

    def generator_update(
        self, batch: dict[str, tf.Tensor], p: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        """One generator update on this replica's share of ``batch``, its augmentations at
        probability ``p`` (None: the trainer's)."""
        labels = batch["gen_labels"]
        seeking = self.cfg.gen_mode_seeking > 0
        with tf.GradientTape() as tape:
            drawn = self.generator([batch["gen_noise"], labels], training=True)
            fake = self.augmentation.apply(drawn, batch["aug_gen"], self._chance(batch, "gen"), p)
            # The critic is not being trained here: no power iteration, no kernel update.
            scores, features = self._critic_and_features([fake, labels], training=False)
            per_example = losses.generator_loss(scores)
            if seeking:
                term = self._mode_seeking(drawn, features, labels, batch["gen_noise"])
                per_example += self.cfg.gen_mode_seeking * term
            loss = self._average(per_example)
            scaled = self._scaled(self.gen_opt, loss)
        self._apply(self.gen_opt, tape, scaled, self.generator)
        metrics = {"generator_loss": loss}
        if seeking:
            metrics["mode_seeking"] = self._average(term)
        return metrics

    def _mode_seeking(
        self, drawn: tf.Tensor, features: tf.Tensor, labels: tf.Tensor, noise: tf.Tensor
    ) -> tf.Tensor:
        """The mode-seeking term of the digits as ``drawn`` (augmentation's shifts would count
        as variety), in the space ``gen_mode_seeking_space`` names; ``features``: the critic's
        of the digits it scored."""
        if self.cfg.gen_mode_seeking_space == "images":
            return losses.mode_seeking(drawn, noise)
        if self.cfg.critic_augment != "none":
            _, features = self._critic_and_features([drawn, labels], training=False)
        unit = losses.mean_absolute_deviation(features, self.global_batch)
        return losses.mode_seeking(features, noise, unit)

    def _sum(self, per_replica: tf.Tensor) -> tf.Tensor:
        return self.strategy.reduce("SUM", per_replica, axis=None)

    def _critic_metrics(self) -> tuple[str, ...]:
        """What :meth:`critic_update` reports (the consistency term only where it is on)."""
        names: tuple[str, ...] = ("critic_loss", "gradient_penalty", *losses.REPORTED)
        if self.cfg.critic_consistency > 0:
            names += ("consistency",)
        return (*names, "augment_signal") if self.augmentation.adaptive else names

    def _generator_metrics(self) -> tuple[str, ...]:
        """What :meth:`generator_update` reports (the mode-seeking term only where it is on)."""
        return ("generator_loss", "mode_seeking") if self.cfg.gen_mode_seeking > 0 else ("generator_loss",)

    def _generator_step(self, step: tf.Tensor) -> dict[str, tf.Tensor]:
        """Generator step number ``step`` (from 0): ``crit_steps`` critic updates then one
        generator update; the critic's metrics summed over its updates, global means each."""
        sums = {name: tf.constant(0.0) for name in self._critic_metrics()}
        # Read here, in the cross-replica context, and handed to every replica: each replica
        # sees one value. The critic's updates use the step's; the generator's the value its
        # signal moved it to.
        p = self.augmentation.p.read_value()
        for i in range(self.cfg.crit_steps):
            batch = next(self.iterator)
            update = step * self.cfg.crit_steps + i
            out = self.strategy.run(self.critic_update, args=(batch, update, p))
            if set(out) != set(sums):  # at trace time: a metric added in one place only is an error
                raise ValueError(f"critic_update reports {sorted(out)}, _critic_metrics names {sorted(sums)}")
            sums = {name: total + self._sum(out[name]) for name, total in sums.items()}
        if self.augmentation.adaptive:
            p = self.augmentation.adjust(sums["augment_signal"] / self.cfg.crit_steps)
        out = self.strategy.run(self.generator_update, args=(batch, p))
        return {**sums, **{name: self._sum(out[name]) for name in self._generator_metrics()}}

    @tf.function
    def train(self, num_steps: tf.Tensor) -> dict[str, tf.Tensor]:
        """Run ``num_steps`` generator steps (with their critic steps) in one graph call.

        The average's batch-norm statistics are left as they were: :meth:`settle` brings
        them up to date before anything reads the average.
        """
        sums = {name: tf.constant(0.0) for name in (*self._critic_metrics(), *self._generator_metrics())}
        for i in tf.range(num_steps):
            out = self._generator_step(self.step + tf.cast(i, tf.int64))
            self.ema.update(self.step + tf.cast(i, tf.int64) + 1)
            sums = {name: total + out[name] for name, total in sums.items()}
        self.step.assign_add(tf.cast(num_steps, tf.int64))
        n = tf.cast(num_steps, tf.float32)
        critic_updates = n * self.cfg.crit_steps
        metrics = {name: total / critic_updates for name, total in sums.items()}
        metrics.update({name: sums[name] / n for name in self._generator_metrics()})
        metrics["gen_lr"] = tf.cast(self.gen_opt.learning_rate, tf.float32)
        metrics["critic_lr"] = tf.cast(self.critic_opt.learning_rate, tf.float32)
        if self.augmentation.adaptive:
            metrics["augment_p"] = tf.identity(self.augmentation.p)
        return metrics

    def settle(self) -> None:
        """Recompute the average's batch-norm statistics from its current weights, once per
        step reached: the loop calls it before every evaluation and checkpoint, so each sees
        a consistent model while the steps between pay nothing for it."""
        step = int(self.step.numpy())
        if step != self._settled_at:
            self._refresh()
            self._settled_at = step

    def sampler(self) -> tf.types.experimental.GenericFunction:
        """A graph function (noise, labels) -> images in [-1, 1] from the averaged generator."""
        return tf.function(lambda z, y: self.generator_ema([z, y], training=False), reduce_retracing=True)


def _statistics_inputs(seed: int, noise_dim: int, num_classes: int) -> list[tf.Tensor]:
    """Fixed noise and balanced labels: the same statistics batch at every call and resume."""
    key = tf.constant([seed, 7919], tf.int64)
    noise = tf.random.stateless_normal([STATISTICS_SAMPLES, noise_dim], seed=key)
    labels = tf.range(STATISTICS_SAMPLES, dtype=tf.int32) % num_classes
    return [noise, labels]


class _GanCheckpoint(tf.train.Checkpoint):
    """Also resumes checkpoints that lack what this run keeps, or keep what it does not.

    Written before the averaged generator existed: everything else restores, and the average
    starts as a copy of the restored generator. Written before the augmentation probability
    was adapted (a run given --critic-augment-target on resume): it starts at
    --critic-augment-p. Written while it was adapted, resumed with it fixed: it is left out.
    Written before its start was kept beside it: it resumes where it was.
    """

    REQUIRED = ("generator", "critic", "gen_opt", "critic_opt", "step")
    OPTIONAL = ("generator_ema", "augment_p", "augment_p_start")
    after_restore: Callable[[], None] | None = None

    def restore(self, save_path: str, options: tf.train.CheckpointOptions | None = None) -> Any:
        status = self._restore(save_path, options)
        if save_path and self.after_restore is not None:
            self.after_restore()
        return status

    def _restore(self, save_path: str, options: tf.train.CheckpointOptions | None) -> Any:
        if not save_path:
            return super().restore(save_path, options)
        held = {name: checkpoints.holds_object(save_path, name) for name in self.OPTIONAL}
        lacking = {name for name in self.OPTIONAL if hasattr(self, name) and not held[name]}
        if not lacking:
            status = super().restore(save_path, options)
            if held["augment_p"] and not hasattr(self, "augment_p"):
                status.expect_partial()  # or TensorFlow warns of the unread value at exit
            return status
        names = (*self.REQUIRED, *self.OPTIONAL)
        parts = {name: getattr(self, name) for name in names if hasattr(self, name) and name not in lacking}
        status = tf.train.Checkpoint(**parts).restore(save_path, options)
        if "generator_ema" in lacking:
            for a, w in zip(self.generator_ema.variables, self.generator.variables):
                a.assign(w)
        return status
