"""The GAN step's inputs: global batches of real digits with every random number the step uses.

Drawn here, in the input pipeline, and keyed by (seed, batch number) alone, so the same
global batch gives the same update on 1 or N replicas and a resumed run continues exactly.
"""

from __future__ import annotations

import tensorflow as tf

from mnist_gan.configs import GanConfig
from mnist_gan.data import pipeline
from mnist_gan.models import augment, networks
from mnist_gan.training import adaptive


def gan_dataset(
    split: pipeline.Split, cfg: GanConfig, start_batch: int = 0, num_classes: int = networks.DIGIT_CLASSES
) -> tf.data.Dataset:
    """Global batches of real digits plus the step's random numbers, as a dict.

    Batch k depends on (seed, k) alone; a run resumed at generator step s starts at
    ``start_batch = s * crit_steps``.
    """
    real = pipeline.train_dataset(split, cfg.batch_size, cfg.seed, start_batch=start_batch)

    def randoms(n: tf.Tensor) -> dict[str, tf.Tensor]:
        # Stateless, keyed by (seed, batch number): independent of TF's global seed.
        step_key = tf.stack([tf.constant(cfg.seed, tf.int64), n])

        def keys_of_their_own(stream: int, count: int) -> tf.Tensor:
            # An option's draws from keys of their own: a run without it draws what it always drew.
            key = tf.random.experimental.stateless_fold_in(step_key, stream)
            return tf.random.experimental.stateless_split(key, count)

        seeds = tf.random.experimental.stateless_split(step_key, 4)
        b, d = cfg.batch_size, cfg.noise_dim
        # Augmentation draws from keys of their own: the streams above stay as they were.
        aug = tf.random.experimental.stateless_split(tf.stack([tf.constant(cfg.seed, tf.int64), -1 - n]), 3)
        out = {
            "noise": tf.random.stateless_normal([b, d], seeds[0]),
            "gen_noise": tf.random.stateless_normal([b, d], seeds[1]),
            "gen_labels": tf.random.stateless_uniform([b], seeds[2], 0, num_classes, tf.int32),
            "alpha": tf.random.stateless_uniform([b], seeds[3]),
            "aug_real": augment.draws(aug[0], b),
            "aug_fake": augment.draws(aug[1], b),
            "aug_gen": augment.draws(aug[2], b),
        }
        if cfg.gen_mode_seeking > 0:
            # Neighbours (0, 1), (2, 3), ... share a class, the pairs of the mode-seeking term.
            out["gen_labels"] = tf.repeat(out["gen_labels"][::2], 2)[:b]
        if adaptive.AugmentProbability.draws_chances(cfg):
            keys = keys_of_their_own(2, 3)
            for i, name in enumerate(("real", "fake", "gen")):
                out[f"aug_{name}_chance"] = augment.chances(keys[i], b)
        if cfg.critic_consistency > 0:
            cr = keys_of_their_own(1, 2)
            out["cr_real"] = augment.draws(cr[0], b)
            out["cr_fake"] = augment.draws(cr[1], b)
        return out

    numbers = tf.data.Dataset.counter(start=start_batch).map(randoms, num_parallel_calls=tf.data.AUTOTUNE)
    ds = tf.data.Dataset.zip(real, numbers)
    ds = ds.map(lambda r, rnd: {"images": r[0], "labels": r[1], **rnd})
    return ds.prefetch(tf.data.AUTOTUNE)
