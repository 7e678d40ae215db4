"""The tf.data pipelines: shapes, ranges, batching for replicas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from mnist_gan.data import pipeline, sources


def test_train_batches_are_scaled_and_whole(tiny_dataset: Path) -> None:
    train, _ = sources.load(tiny_dataset).splits
    ds = pipeline.train_dataset(train, global_batch=64, seed=0)
    seen = []
    for images, labels in ds.take(7):  # 7 * 64 > 200: crosses epoch boundaries
        assert images.shape == (64, 28, 28, 1) and images.dtype == tf.float32
        assert labels.dtype == tf.int32
        assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
        seen.append(labels.numpy())
    assert set(np.concatenate(seen)) == set(range(10))


def test_scaling_endpoints() -> None:
    out = pipeline.to_model_range(tf.constant([[0, 255]], tf.uint8)).numpy()
    np.testing.assert_allclose(out[..., 0], [[-1.0, 1.0]])
    np.testing.assert_array_equal(pipeline.from_model_range(out[..., 0]), [[0, 255]])


def test_pixels_come_back_the_same_in_python_and_in_the_exported_graph() -> None:
    # generate.py's PNGs (NumPy) and the SavedModel's uint8 output (TensorFlow) must agree,
    # halves included: both round half to even.
    from mnist_gan.generation import to_uint8

    every = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    back = pipeline.from_model_range(pipeline.to_model_range(every).numpy())[..., 0]
    np.testing.assert_array_equal(back, every)
    halves = np.array([-1.0, -0.99, -1 + 0.5 / 127.5, -1 + 1.5 / 127.5, 0.0, 0.5, 1.0, 1.2], np.float32)
    images = halves.reshape(1, 2, 4, 1)
    np.testing.assert_array_equal(
        to_uint8(tf.constant(images)).numpy(), pipeline.from_model_range(images)[..., 0]
    )


def test_shuffling_is_seeded(tiny_dataset: Path) -> None:
    train, _ = sources.load(tiny_dataset).splits
    a = next(iter(pipeline.train_dataset(train, 32, seed=1)))[1].numpy()
    b = next(iter(pipeline.train_dataset(train, 32, seed=1)))[1].numpy()
    c = next(iter(pipeline.train_dataset(train, 32, seed=2)))[1].numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_augmentation_keeps_shape_and_range(tiny_dataset: Path) -> None:
    train, _ = sources.load(tiny_dataset).splits
    images, _ = next(iter(pipeline.train_dataset(train, 16, seed=0, augment=True)))
    assert images.shape == (16, 28, 28, 1)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0


def test_global_batch_splits_over_two_replicas(tiny_dataset: Path) -> None:
    train, _ = sources.load(tiny_dataset).splits
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    dist = strategy.experimental_distribute_dataset(pipeline.train_dataset(train, 32, seed=0))
    images, _ = next(iter(dist))
    shapes = [t.shape for t in strategy.experimental_local_results(images)]
    assert shapes == [(16, 28, 28, 1), (16, 28, 28, 1)]


def test_unreadable_file_is_not_called_damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A permission error (simulated: root reads any file) is reported as such."""
    from mnist_gan.data import idx

    path = tmp_path / "train-images-idx3-ubyte"
    idx.write_idx(path, np.zeros((2, 28, 28), np.uint8))

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(
        idx.IdxError, match=r"cannot read it \(permission denied\); check the file's permissions"
    ):
        idx.read_idx(path, 3)
