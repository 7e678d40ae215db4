"""The independent reader (k nearest neighbours in pixels) against known answers: its
neighbours, its votes, and where it is fitted in evaluate.py's report."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_gan.eval import report
from mnist_gan.eval.independent import knn_accuracy, knn_predict
from mnist_gan.eval.neighbours import k_nearest_neighbours


def _clusters(n: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ten 8x8 'digits' in [0, 1], one blob per class, in turn."""
    centres = np.random.default_rng(99).uniform(0.2, 0.8, (10, 8, 8))
    labels = np.arange(n) % 10
    noise = np.random.default_rng(seed).standard_normal((n, 8, 8))
    return np.clip(centres[labels] + spread * noise, 0, 1), labels


def test_k_nearest_match_brute_force_across_chunks() -> None:
    rng = np.random.default_rng(0)
    queries, reference = rng.standard_normal((150, 9)) + 3, rng.standard_normal((407, 9)) + 3
    full = np.sqrt(((queries[:, None, :] - reference[None]) ** 2).sum(-1))
    # Blocks of 2 reference points hold fewer than k: the running k must merge across them.
    for ref_chunk in (2, 100, 8192):
        distance, index = k_nearest_neighbours(queries, reference, 3, query_chunk=64, ref_chunk=ref_chunk)
        np.testing.assert_array_equal(index, np.argsort(full, axis=1)[:, :3])
        np.testing.assert_allclose(distance, np.sort(full, axis=1)[:, :3], rtol=1e-5)
    with pytest.raises(ValueError, match="k must be between 1 and the 407"):
        k_nearest_neighbours(queries, reference, 408)


def test_separated_classes_are_all_read_and_the_pixel_range_does_not_matter() -> None:
    reference, reference_labels = _clusters(200, 0.05, seed=1)
    images, labels = _clusters(300, 0.05, seed=2)
    assert knn_accuracy(reference, reference_labels, images, labels) == 1.0
    # The model's [-1, 1] is a scaled shift of [0, 1]: the same neighbours, the same reading.
    scaled = knn_predict(2 * reference - 1, reference_labels, 2 * images - 1)
    np.testing.assert_array_equal(scaled, knn_predict(reference, reference_labels, images))


def test_shuffled_labels_read_at_chance() -> None:
    reference, reference_labels = _clusters(1000, 0.05, seed=1)
    images, labels = _clusters(1000, 0.05, seed=2)
    shuffled = np.random.default_rng(3).permutation(reference_labels)
    assert 0.05 < knn_accuracy(reference, shuffled, images, labels) < 0.16  # chance: 0.1


def test_majority_vote_and_ties_go_to_the_nearest() -> None:
    # Reference points on a line at 1, 2, 3, 4; the query at 0 sees them in that order.
    reference = np.array([[1.0], [2.0], [3.0], [4.0]])
    query = np.zeros((1, 1))
    assert knn_predict(reference, np.array([7, 5, 5, 7]), query)[0] == 5  # 2 votes of 3
    assert knn_predict(reference, np.array([7, 5, 6, 5]), query)[0] == 7  # 1-1-1: the nearest
    assert knn_predict(reference, np.array([7, 5, 5, 7]), query, k=4)[0] == 7  # 2-2: the nearest
    assert knn_predict(reference, np.array([7, 5, 5, 7]), query, k=1)[0] == 7
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        knn_accuracy(reference, np.arange(4), reference, np.arange(3))


def test_report_fits_the_reader_on_the_test_digits() -> None:
    # Overlapping classes: unseen digits are read about 70 % right.
    (train_x, train_y), (test_x, test_y) = _clusters(500, 0.4, seed=1), _clusters(500, 0.4, seed=2)
    copies = (train_x[:300], train_y[:300])  # a "generator" returning training digits
    metrics, references, _ = report._other_readers(copies, copies, (test_x, test_y), cas_options=None)
    assert set(metrics) == set(references) == {"independent_accuracy"}
    # Copying earns nothing: copies are read exactly as the real training digits are, well
    # short of what the same reader fitted on the training digits gives them (one of the
    # three neighbours of each is the digit itself).
    assert metrics["independent_accuracy"] == references["independent_accuracy"] < 0.8
    assert knn_accuracy(train_x, train_y, *copies) > 0.9


def test_report_table_says_what_the_reader_is() -> None:
    names = ("accuracy", "independent_accuracy")
    table = report.format_report(report.Report(dict.fromkeys(names, 0.9), dict.fromkeys(names, 0.95), {}))
    row = next(line for line in table.splitlines() if line.startswith("independent_accuracy"))
    assert "0.9000      0.9500  real train images; 3-NN in pixels fitted on the test images" in row
    assert "a reader the GAN never trained against" in row
