"""The scores of a generator tracked while it trains: FID, its real-data floor and accuracy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mnist_gan.eval.features import Scorer
from mnist_gan.eval.metrics import accuracy, frechet_distance, moments
from mnist_gan.models import networks

# (noise, labels) -> images in [-1, 1]
SampleFn = Callable[[np.ndarray, np.ndarray], Any]


class GeneratorScorer:
    """Scores a generator against real test digits: FID, its real-data floor and accuracy.

    The real statistics and the floor are computed once; each call draws the same
    ``num_samples`` noise vectors with every class in turn, so scores are comparable
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
        num_classes: int = networks.DIGIT_CLASSES,
    ) -> None:
        self.scorer = scorer
        self.num_classes = num_classes
        self.seed = seed
        self.test_moments = moments(scorer.features_and_logits(real_test)[0])
        # FID is biased by the sample size: the floor and the generated FID are both computed
        # from ``count`` digits, never more than there are real train digits for the floor.
        count = min(num_samples, len(real_train))
        self.floor = frechet_distance(
            moments(scorer.features_and_logits(real_train[:count])[0]), self.test_moments
        )
        self.noise_dim = noise_dim
        self.labels = self.labels_for(count, num_classes)

    @property
    def num_samples(self) -> int:
        """Generated digits scored per evaluation (as many as the floor's real digits)."""
        return len(self.labels)

    @staticmethod
    def labels_for(num_samples: int, num_classes: int = networks.DIGIT_CLASSES) -> np.ndarray:
        """Every class in turn: each asked for equally often."""
        return (np.arange(num_samples) % num_classes).astype(np.int32)

    @classmethod
    def draw(
        cls,
        sample_fn: SampleFn,
        num_samples: int,
        noise_dim: int,
        seed: int,
        batch: int,
        num_classes: int = networks.DIGIT_CLASSES,
    ) -> np.ndarray:
        """Images for the seeded noise and balanced labels, in batches."""
        noise = networks.fixed_noise(seed, num_samples, noise_dim)
        labels = cls.labels_for(num_samples, num_classes)
        return np.concatenate(
            [
                np.asarray(sample_fn(noise[i : i + batch], labels[i : i + batch]))
                for i in range(0, num_samples, batch)
            ]
        )

    def generate(self, sample_fn: SampleFn) -> np.ndarray:
        """Images for the fixed noise and labels."""
        return self.draw(
            sample_fn, len(self.labels), self.noise_dim, self.seed, self.scorer.batch_size, self.num_classes
        )

    def __call__(self, sample_fn: SampleFn) -> dict[str, float]:
        features, logits = self.scorer.features_and_logits(self.generate(sample_fn))
        return {
            "fid": frechet_distance(moments(features), self.test_moments),
            "fid_floor": self.floor,
            "accuracy": accuracy(logits, self.labels),
        }
