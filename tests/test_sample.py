"""The offline real-digit sample: 5,000 MNIST digits split 4,000/1,000, stratified."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_gan.data.idx import load_split
from mnist_gan.data.offline_sample import stratified_split


def test_sample_is_stratified_real_mnist(sample_dir: Path) -> None:
    train, test = load_split(sample_dir, "train"), load_split(sample_dir, "test")
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(train.labels).tolist() == [400] * 10
    assert np.bincount(test.labels).tolist() == [100] * 10
    # Real digits: mostly black background, some full-white strokes, not noise.
    assert 0.7 < float(np.mean(train.images == 0)) < 0.9
    assert int(train.images.max()) == 255


def test_split_is_fixed_and_disjoint() -> None:
    labels = np.repeat(np.arange(10), 500)
    train_a, test_a = stratified_split(labels)
    train_b, test_b = stratified_split(labels)
    np.testing.assert_array_equal(test_a, test_b)
    np.testing.assert_array_equal(train_a, train_b)
    assert not set(train_a) & set(test_a)
    assert len(set(train_a) | set(test_a)) == 5000
