"""Wasserstein losses and the gradient penalty (Gulrajani et al. 2017).

Everything here is per example: the caller averages over the *global* batch with
``tf.nn.compute_average_loss`` so that summing gradients across replicas is exact.
Swapping the adversarial loss touches only this file: :func:`critic_loss`,
:func:`generator_loss` and what the critic's loss reports beside itself (:func:`reported`).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

GP_EPSILON = 1e-12
MODE_SEEKING_EPSILON = 1e-5


def critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """Per-example critic loss D(fake) - D(real): minimising it widens the gap."""
    return tf.reshape(fake_scores - real_scores, [-1])


# The names :func:`reported` returns: logged with the step's metrics, shown on the progress bar.
REPORTED = ("wasserstein",)


def reported(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> dict[str, tf.Tensor]:
    """Per-example estimates the loss reports beside itself: D(real) - D(fake), whose mean is
    the critic's estimate of the Wasserstein distance (what a WGAN's progress is read by)."""
    return {"wasserstein": tf.reshape(real_scores - fake_scores, [-1])}


def generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """Per-example generator loss -D(fake)."""
    return -tf.reshape(fake_scores, [-1])


def consistency(scores: tf.Tensor, shifted_scores: tf.Tensor) -> tf.Tensor:
    """Per-example (D(x) - D(T(x)))^2: the critic's change under an augmentation T (bCR,
    Zhao et al. 2021), in float32 whatever the scores' precision."""
    diff = tf.cast(scores, tf.float32) - tf.cast(shifted_scores, tf.float32)
    return tf.reshape(tf.square(diff), [-1])


def mode_seeking(points: tf.Tensor, noise: tf.Tensor, scale: tf.Tensor | float = 1.0) -> tf.Tensor:
    """Per-example 1 / (ratio + epsilon) of the pairs of neighbours (0, 1), (2, 3), ...: the
    ratio the mean absolute difference of a pair's points (its images, or the critic's
    features of them) over ``scale``, over that of its noise (MSGAN, Mao et al. 2019). The
    pairs share their class (the input pipeline draws them so), and the generator minimising
    it draws the digits of a class as far apart as their noise lies, against collapsing them
    onto a few modes. Both digits of a pair carry the pair's value, so the mean over a batch
    is the mean over its pairs. In float32."""
    x, z = tf.cast(points, tf.float32), tf.cast(noise, tf.float32)
    gap = tf.reduce_mean(tf.abs(x[0::2] - x[1::2]), axis=tf.range(1, tf.rank(x))) / scale
    noise_gap = tf.reduce_mean(tf.abs(z[0::2] - z[1::2]), axis=1)
    return tf.repeat(1.0 / (gap / noise_gap + MODE_SEEKING_EPSILON), 2)


def mean_absolute_deviation(features: tf.Tensor, global_batch: int) -> tf.Tensor:
    """The mean absolute deviation of ``features`` (N, F) from their mean over the global
    batch, all replicas' shares summed in (the same on 1 or N replicas); no gradient: a unit
    the mode-seeking term measures the critic's features in, not something to shrink."""
    h = tf.stop_gradient(tf.cast(features, tf.float32))
    context = tf.distribute.get_replica_context()
    mean = context.all_reduce("SUM", tf.reduce_sum(h, axis=0)) / global_batch
    summed = context.all_reduce("SUM", tf.reduce_sum(tf.abs(h - mean)))
    # Floored: a batch collapsed onto one digit (the case the term is for) would give 0 / 0.
    return tf.maximum(summed / (global_batch * tf.cast(tf.shape(h)[1], tf.float32)), MODE_SEEKING_EPSILON)


def interpolate(real: tf.Tensor, fake: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
    """Points on the lines between real and fake images; ``alpha`` (N,) holds one weight each."""
    alpha = tf.reshape(tf.cast(alpha, real.dtype), [-1, 1, 1, 1])
    return real + alpha * (fake - real)


def gradient_penalty(
    critic_fn: Callable[[tf.Tensor], tf.Tensor],
    points: tf.Tensor,
    loss_scale: tf.Tensor | float = 1.0,
    center: float = 1.0,
) -> tf.Tensor:
    """Per-example (||grad_x D(x)||_2 - center)^2 at ``points``.

    ``center`` 1 is WGAN-GP's penalty; 0 pulls the gradient towards zero instead, the
    zero-centred penalty that Thanh-Tung et al. (2019) found to generalise better from few
    training images.

    ``loss_scale`` multiplies the scores before the inner gradient and divides it out
    afterwards, so float16 gradients do not underflow; the epsilon inside the square root
    keeps the outer gradient finite where the inner one is zero.
    """
    with tf.GradientTape() as tape:
        tape.watch(points)
        scores = tf.cast(critic_fn(points), tf.float32) * loss_scale
    grads = tf.cast(tape.gradient(scores, points), tf.float32) / loss_scale
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + GP_EPSILON)
    return tf.square(norms - center)
