"""tf.data pipelines over a dataset's in-memory arrays.

Images are kept as uint8 in memory (47 MB for all of MNIST) and scaled to [-1, 1] per
batch; training pipelines shuffle, repeat, batch the *global* batch with the remainder
dropped (every replica gets an equal share) and prefetch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mnist_gan.data.idx import Split

__all__ = ["Split", "from_model_range", "to_model_range", "train_dataset"]


def to_model_range(images: tf.Tensor | np.ndarray) -> tf.Tensor:
    """uint8 (..., 28, 28) -> float32 (..., 28, 28, 1) in [-1, 1]: in a pipeline, or once for
    a split's array (``.numpy()`` of the result)."""
    return tf.expand_dims(tf.cast(images, tf.float32) / 127.5 - 1.0, -1)


def from_model_range(images: np.ndarray | tf.Tensor) -> np.ndarray:
    """float images in [-1, 1] of any shape -> uint8 in [0, 255] (as the exported
    SavedModel's :func:`mnist_gan.generation.to_uint8` does in the graph)."""
    return np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _shifted(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    padded = tf.pad(image, [[2, 2], [2, 2]])
    return tf.image.stateless_random_crop(padded, [28, 28], seed=seed)


def shuffled_indices(size: int, seed: int, start: int = 0) -> tf.data.Dataset:
    """Endless example indices from position ``start``: epoch e is a permutation fixed by (seed, e).

    Stateless ops make the order depend on ``seed`` alone, not on TensorFlow's global
    seed or on how many random ops ran before, so every run (and every replica count)
    sees the same batches, and a resumed run can start exactly where the last one stopped.
    """

    def epoch(e: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(size, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), e])
        )
        return tf.data.Dataset.from_tensor_slices(order)

    first_epoch, offset = divmod(start, size)
    return tf.data.Dataset.counter(start=first_epoch).flat_map(epoch).skip(offset)


def train_dataset(
    split: Split, global_batch: int, seed: int, augment: bool = False, start_batch: int = 0
) -> tf.data.Dataset:
    """Endless shuffled batches of (images in [-1, 1], int32 labels), from batch ``start_batch``.

    Batch k is a function of (seed, k) alone: resuming at ``start_batch`` continues the
    stream an uninterrupted run would have seen.
    """
    images = tf.constant(split.images)
    labels = tf.constant(split.labels.astype(np.int32))
    start = start_batch * global_batch
    ds = shuffled_indices(len(split), seed, start)
    if augment:
        # Per-example shifts, each seeded by (seed, position in the stream).
        ds = tf.data.Dataset.zip(ds, tf.data.Dataset.counter(start=start))
        ds = ds.map(
            lambda i, n: (
                _shifted(tf.gather(images, i), tf.stack([n, tf.constant(seed, tf.int64)])),
                labels[i],
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        ds = ds.batch(global_batch, drop_remainder=True)
    else:
        ds = ds.batch(global_batch, drop_remainder=True)
        ds = ds.map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))
    ds = ds.map(lambda x, y: (to_model_range(x), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
