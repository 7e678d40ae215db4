"""Scores of generated digits in the trained classifier's terms (after TF-GAN's functions).

Statistics are accumulated in float64; the matrix square root in FID goes through a
symmetric eigen-decomposition, which is stable where a general ``sqrtm`` is not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# (noise, labels) -> images in [-1, 1]
SampleFn = Callable[[np.ndarray, np.ndarray], Any]


@dataclass(frozen=True)
class Moments:
    """Mean and covariance of a set of feature vectors."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def moments(features: np.ndarray) -> Moments:
    """Mean and (unbiased) covariance, in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors of shape (N, D), got {f.shape}")
    return Moments(mean=f.mean(axis=0), cov=np.cov(f, rowvar=False), count=f.shape[0])


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


class Scorer:
    """Runs images through the classifier once and returns features and logits as NumPy."""

    def __init__(self, extractor: keras.Model, batch_size: int = 500) -> None:
        self.extractor = extractor
        self.batch_size = batch_size
        self._predict = tf.function(lambda x: extractor(x, training=False), reduce_retracing=True)

    def features_and_logits(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images (N, 28, 28, 1) in [-1, 1] -> features (N, D), logits (N, 10)."""
        feats, logits = [], []
        for start in range(0, len(images), self.batch_size):
            f, lg = self._predict(tf.convert_to_tensor(images[start : start + self.batch_size]))
            feats.append(f.numpy())
            logits.append(lg.numpy())
        return np.concatenate(feats), np.concatenate(logits)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose arg-max is the label."""
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))


def per_class_accuracy(logits: np.ndarray, labels: np.ndarray, classes: int = 10) -> np.ndarray:
    """Accuracy per asked-for class (NaN for a class with no samples)."""
    hits = np.argmax(logits, axis=-1) == labels
    return np.array([hits[labels == c].mean() if np.any(labels == c) else np.nan for c in range(classes)])


class GeneratorScorer:
    """Scores a generator against real test digits: FID, its real-data floor and accuracy.

    The real statistics and the floor are computed once; each call draws the same
    ``num_samples`` noise vectors with labels 0-9 in turn, so scores are comparable
    across evaluations.
    """

    def __init__(
        self,
        scorer: Scorer,
        real_test: np.ndarray,
        real_train: np.ndarray,
        num_samples: int,
        noise_dim: int,
        seed: int,
    ) -> None:
        self.scorer = scorer
        self.test_moments = moments(scorer.features_and_logits(real_test)[0])
        # The floor uses as many train digits as samples are scored (or all there are), so
        # it carries the same small-sample bias a perfect generator's FID would.
        count = min(num_samples, len(real_train))
        self.floor = frechet_distance(
            moments(scorer.features_and_logits(real_train[:count])[0]), self.test_moments
        )
        rng = np.random.default_rng(seed)
        self.noise = rng.standard_normal((num_samples, noise_dim)).astype(np.float32)
        self.labels = (np.arange(num_samples) % 10).astype(np.int32)

    def generate(self, sample_fn: SampleFn) -> np.ndarray:
        """Images for the fixed noise and labels, in batches of the scorer's size."""
        b = self.scorer.batch_size
        return np.concatenate(
            [
                np.asarray(sample_fn(self.noise[i : i + b], self.labels[i : i + b]))
                for i in range(0, len(self.labels), b)
            ]
        )

    def __call__(self, sample_fn: SampleFn) -> dict[str, float]:
        features, logits = self.scorer.features_and_logits(self.generate(sample_fn))
        return {
            "fid": frechet_distance(moments(features), self.test_moments),
            "fid_floor": self.floor,
            "accuracy": accuracy(logits, self.labels),
        }
