"""Differentiable augmentation of the critic's inputs (DiffAugment, Zhao et al. 2020).

On a few thousand training digits the critic can learn the training set by heart; showing
it real and generated digits alike through the same random translations and cutouts keeps
it from doing so without changing what the generator is asked to produce (the
augmentations are applied to both sides, and are differentiable, so the generator's gradient
flows through them).

Each augmentation can apply to a share of the digits alone (ADA, Karras et al. 2020): a digit
is shifted when its chance is under the probability ``p``, and cut out when its other chance
is; :mod:`mnist_gan.training.adaptive` can raise and lower ``p`` as the critic learns.

The random numbers are inputs, drawn in the input pipeline like every other random number
of a step (see :func:`draws` and :func:`chances`), so a global batch gives the same update
on 1 or N replicas and a resumed run continues exactly.
"""

from __future__ import annotations

import tensorflow as tf

# DiffAugment's proportions (shifts of up to 1/8 of the side, a cutout of half) at 28x28.
SHIFT = 3
CUTOUT = 14
BACKGROUND = -1.0  # black in the [-1, 1] model range


def draws(seed: tf.Tensor, count: int, size: int = 28) -> tf.Tensor:
    """(count, 4) int32: a shift (dy, dx) in [-SHIFT, SHIFT] and a cutout centre (cy, cx)."""
    shift = tf.random.stateless_uniform([count, 2], seed, -SHIFT, SHIFT + 1, tf.int32)
    centre = tf.random.stateless_uniform([count, 2], seed + 1, 0, size, tf.int32)
    return tf.concat([shift, centre], axis=1)


def chances(seed: tf.Tensor, count: int) -> tf.Tensor:
    """(count, 2) float32 in [0, 1): a digit is shifted if the first is under ``p``, cut out
    if the second is."""
    return tf.random.stateless_uniform([count, 2], seed)


def translate(images: tf.Tensor, shifts: tf.Tensor) -> tf.Tensor:
    """Shift each image (N, H, W, C) by its (dy, dx), filling with the background."""
    h, w = images.shape[1], images.shape[2]
    padded = tf.pad(
        images,
        [[0, 0], [SHIFT, SHIFT], [SHIFT, SHIFT], [0, 0]],
        constant_values=tf.cast(BACKGROUND, images.dtype),
    )
    rows = tf.range(h)[None, :] + SHIFT - shifts[:, 0:1]
    cols = tf.range(w)[None, :] + SHIFT - shifts[:, 1:2]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(out, cols, axis=2, batch_dims=1)


def cutout(images: tf.Tensor, centres: tf.Tensor) -> tf.Tensor:
    """Blank a CUTOUT x CUTOUT square (clipped at the border) around each image's centre."""
    h, w = images.shape[1], images.shape[2]
    inside_rows = tf.abs(tf.range(h)[None, :] - centres[:, 0:1]) < CUTOUT // 2
    inside_cols = tf.abs(tf.range(w)[None, :] - centres[:, 1:2]) < CUTOUT // 2
    hole = tf.logical_and(inside_rows[:, :, None], inside_cols[:, None, :])[..., None]
    return tf.where(hole, tf.cast(BACKGROUND, images.dtype), images)


def apply(
    mode: str,
    images: tf.Tensor,
    numbers: tf.Tensor,
    chance: tf.Tensor | None = None,
    p: tf.Tensor | float = 1.0,
) -> tf.Tensor:
    """``images`` augmented as ``mode`` says ('none', or 'translation' and/or 'cutout' joined
    by commas), with ``numbers`` from :func:`draws`; given ``chance`` from :func:`chances`,
    each augmentation only where its chance is under ``p``."""
    parts = set(mode.split(",")) - {"none"}
    if parts - {"translation", "cutout"}:
        raise ValueError(f"unknown augmentation {mode!r}")

    def some(column: int, augmented: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
        if chance is None:
            return augmented
        chosen = chance[:, column] < tf.cast(p, chance.dtype)
        return tf.where(chosen[:, None, None, None], augmented, plain)

    if "translation" in parts:
        images = some(0, translate(images, numbers[:, :2]), images)
    if "cutout" in parts:
        images = some(1, cutout(images, numbers[:, 2:]), images)
    return images
