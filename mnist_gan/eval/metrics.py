"""Scores of generated digits in the trained classifier's terms (after TF-GAN's functions).

The metric functions are pure NumPy. Statistics are accumulated in float64 over batches;
the matrix square root in FID goes through a symmetric eigen-decomposition, which is
stable where a general ``sqrtm`` is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Moments:
    """Mean and covariance of a set of feature vectors."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


class RunningMoments:
    """Mean and covariance accumulated batch by batch in float64, without keeping features."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | None = None
        self.outer: np.ndarray | None = None

    def update(self, features: np.ndarray) -> RunningMoments:
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2:
            raise ValueError(f"features must be (N, D), got {f.shape}")
        if self.total is None:
            self.total, self.outer = np.zeros(f.shape[1]), np.zeros((f.shape[1], f.shape[1]))
        elif f.shape[1] != self.total.shape[0]:
            raise ValueError(f"feature size changed from {self.total.shape[0]} to {f.shape[1]}")
        assert self.outer is not None
        self.total += f.sum(axis=0)
        self.outer += f.T @ f
        self.count += f.shape[0]
        return self

    def result(self) -> Moments:
        if self.total is None or self.outer is None or self.count < 2:
            raise ValueError(f"need at least 2 feature vectors for a covariance, got {self.count}")
        mean = self.total / self.count
        cov = (self.outer - self.count * np.outer(mean, mean)) / (self.count - 1)
        return Moments(mean=mean, cov=cov, count=self.count)


def moments(features: np.ndarray, batch: int = 1000) -> Moments:
    """Mean and unbiased covariance of (N, D) features, accumulated in batches."""
    running = RunningMoments()
    f = np.asarray(features)
    if f.ndim != 2:
        raise ValueError(f"features must be (N, D), got {f.shape}")
    for start in range(0, len(f), batch):
        running.update(f[start : start + batch])
    return running.result()


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a: Moments, b: Moments) -> float:
    """FID = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    Tr((S_a S_b)^(1/2)) equals the trace of the square root of the symmetric
    S_a^(1/2) S_b S_a^(1/2), whose eigenvalues are real and, clamped at 0, safe to root.
    """
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"feature sizes differ: {a.mean.shape} vs {b.mean.shape}")
    root_a = _sqrt_psd(a.cov)
    middle = root_a @ b.cov @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = a.mean - b.mean
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * trace_sqrt)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose arg-max is the label."""
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))


def per_class_accuracy(logits: np.ndarray, labels: np.ndarray, classes: int = 10) -> np.ndarray:
    """Accuracy per asked-for class (NaN for a class with no samples)."""
    return per_class_mean(np.argmax(logits, axis=-1) == labels, labels, classes)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def classifier_score(logits: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))): the Inception score with our classifier.

    1 when every image gets the same prediction; the number of classes when predictions
    are confident and the classes equally used.
    """
    p = softmax(logits)
    marginal = p.mean(axis=0, keepdims=True)
    kl = np.sum(p * (np.log(p + 1e-12) - np.log(marginal + 1e-12)), axis=-1)
    return float(np.exp(kl.mean()))


def _pairwise_sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0.0)


def _knn_radii(features: np.ndarray, k: int, chunk: int) -> np.ndarray:
    radii = np.empty(len(features))
    for start in range(0, len(features), chunk):
        d = _pairwise_sq_distances(features[start : start + chunk], features)
        # The k-th nearest neighbour other than the point itself (distance 0, sorted first).
        radii[start : start + chunk] = np.sqrt(np.partition(d, k, axis=1)[:, k])
    return radii


def _inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int) -> np.ndarray:
    inside = np.zeros(len(points), dtype=bool)
    for start in range(0, len(points), chunk):
        d = np.sqrt(_pairwise_sq_distances(points[start : start + chunk], centres))
        inside[start : start + chunk] = np.any(d <= radii[None, :], axis=1)
    return inside


def manifold_membership(
    real: np.ndarray, fake: np.ndarray, k: int = 3, chunk: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Which generated samples lie inside the real samples' k-NN manifold, and which real
    samples inside the generated ones' (Kynkäänniemi et al. 2019): two boolean arrays, one
    entry per sample, whose means are precision and recall."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"need more than k={k} samples in each set, got {len(real)} and {len(fake)}")
    return (
        _inside(fake, real, _knn_radii(real, k, chunk), chunk),
        _inside(real, fake, _knn_radii(fake, k, chunk), chunk),
    )


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = 3, chunk: int = 1000
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

    Precision: share of generated samples inside the real manifold (quality);
    recall: share of real samples inside the generated manifold (coverage: a dropped mode
    lowers it).
    """
    fake_inside, real_inside = manifold_membership(real, fake, k, chunk)
    return float(fake_inside.mean()), float(real_inside.mean())


def per_class_mean(values: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """The mean of ``values`` over the samples of each class (NaN for a class with none).

    Of :func:`manifold_membership`'s arrays: precision per asked-for class, and recall per
    class of the real digits, each still against the whole manifold of the other side, so
    that the classes' values, weighted by their counts, average to precision and recall."""
    values, labels = np.asarray(values, dtype=np.float64), np.asarray(labels)
    return np.array([values[labels == c].mean() if np.any(labels == c) else np.nan for c in range(classes)])
