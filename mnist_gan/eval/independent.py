"""An independent reader of generated digits: k nearest neighbours in pixel space (pure NumPy).

Every other score of ``evaluate.py`` reads digits through the project's own classifier, which
a generator can learn to please without drawing better digits. This reader shares nothing
with the project but the pixels: no weights, no training, no features. It is fitted on the
held-out test digits, never on the training digits the generator learned from, so a copied
training digit is read as any real digit is (the reference: real training digits, read by
the same reader) and never earns the free match of a digit against itself.

Distances come from :func:`mnist_gan.eval.neighbours.k_nearest_neighbours`; images in [0, 1]
or in the model's [-1, 1] give the same neighbours (one range is a scaled shift of the other).
"""

from __future__ import annotations

import numpy as np

from mnist_gan.eval.neighbours import k_nearest_neighbours

K = 3


def knn_predict(
    reference_images: np.ndarray, reference_labels: np.ndarray, images: np.ndarray, k: int = K
) -> np.ndarray:
    """The label of each image by a majority of its ``k`` nearest reference images
    (Euclidean, in pixels); a tie between labels goes to the one of the nearest neighbour."""
    labels = np.asarray(reference_labels)
    if len(labels) != len(reference_images):
        raise ValueError(f"{len(reference_images)} reference images but {len(labels)} labels")
    votes = labels[k_nearest_neighbours(images, reference_images, k)[1]]  # (images, k), nearest first
    # Each neighbour's label counted among the k; the first neighbour with the most wins, so of
    # tied labels the one with the nearest neighbour does.
    counts = (votes[:, :, None] == votes[:, None, :]).sum(axis=2)
    winner = np.argmax(counts == counts.max(axis=1, keepdims=True), axis=1)
    return votes[np.arange(len(votes)), winner]


def knn_accuracy(
    reference_images: np.ndarray,
    reference_labels: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    k: int = K,
) -> float:
    """Share of ``images`` that a ``k``-NN reader fitted on the reference images reads as their
    ``labels`` (for generated digits: the asked-for ones)."""
    expected = np.asarray(labels)
    if len(expected) != len(images):
        raise ValueError(f"{len(images)} images but {len(expected)} labels")
    if len(expected) == 0:
        raise ValueError("no images to read")
    return float(np.mean(knn_predict(reference_images, reference_labels, images, k) == expected))
