"""The probability that the critic's augmentations apply to a digit, fixed or adapted (ADA).

ADA (Karras et al. 2020) raises the probability while the critic tells the training digits
from generated ones more surely than a target, and lowers it otherwise: the augmentation
then grows only as the critic starts to learn the training digits by heart. A WGAN critic's
scores have no fixed zero, so the signal here is the pairwise form of ADA's r_t: the mean
of sign(D(real) - D(generated)) over a batch's pairs (each pair of one class), 0 when the
critic cannot tell them apart, 1 when it always can.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mnist_gan.configs import GanConfig
from mnist_gan.models import augment


class AugmentProbability:
    """``p`` of :func:`mnist_gan.models.augment.apply`, kept in the checkpoint when adapted."""

    def __init__(self, cfg: GanConfig) -> None:
        self.mode = cfg.critic_augment
        self.adaptive = cfg.critic_augment != "none" and cfg.critic_augment_target > 0
        self.partial = self.draws_chances(cfg)
        self.target = cfg.critic_augment_target
        # ADA's rule: p can cross [0, 1] once in critic_augment_speed real digits shown.
        self.rate = cfg.batch_size * cfg.crit_steps / cfg.critic_augment_speed
        self.p = tf.Variable(cfg.critic_augment_p, dtype=tf.float32, trainable=False, name="augment_p")
        # Where p started, kept beside it: a run resumed with another --critic-augment-p
        # (allowed by --continue-with-changes) starts p again there, as its record then says.
        self.given = float(np.float32(cfg.critic_augment_p))  # as the variable holds it
        self.start = tf.Variable(self.given, dtype=tf.float32, trainable=False, name="augment_p_start")

    def restart_if_given_anew(self) -> None:
        """After a restore: p from the configured start if the checkpoint's started elsewhere."""
        if self.adaptive and float(self.start.numpy()) != self.given:
            self.p.assign(self.given)
            self.start.assign(self.given)

    @staticmethod
    def draws_chances(cfg: GanConfig) -> bool:
        """Whether the step needs each digit's chances: only where some digits may go
        unaugmented, so a run at p = 1 draws what it drew before the probability existed."""
        return cfg.critic_augment != "none" and (cfg.critic_augment_p < 1 or cfg.critic_augment_target > 0)

    def apply(
        self, images: tf.Tensor, numbers: tf.Tensor, chance: tf.Tensor | None, p: tf.Tensor | None = None
    ) -> tf.Tensor:
        """``images`` augmented with the step's ``numbers``, each augmentation for the digits
        whose ``chance`` is under ``p`` (None: this probability's value)."""
        if not self.partial:
            return augment.apply(self.mode, images, numbers)
        return augment.apply(self.mode, images, numbers, chance, self.p if p is None else p)

    def adjust(self, signal: tf.Tensor) -> tf.Tensor:
        """Move ``p`` one step toward where ``signal`` (the global mean of :func:`signal`)
        meets the target (a fixed probability stays); its new value."""
        if self.adaptive:
            direction = tf.sign(tf.cast(signal, tf.float32) - self.target)
            self.p.assign(tf.clip_by_value(self.p + direction * self.rate, 0.0, 1.0))
        return self.p.read_value()


def signal(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """Per pair sign(D(real) - D(generated)) in float32: +1 where the critic ranks the real
    digit above the generated one of its class."""
    return tf.reshape(tf.sign(tf.cast(real_scores, tf.float32) - tf.cast(fake_scores, tf.float32)), [-1])
