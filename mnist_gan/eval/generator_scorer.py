"""The scores of a generator tracked while it trains: FID, its real-data floor and accuracy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mnist_gan.eval.features import ClassifierReader
from mnist_gan.eval.metrics import accuracy, frechet_distance, moments
from mnist_gan.models import networks
from mnist_gan.runtime import checkpoints, distribute, record

# (noise, labels) -> images in [-1, 1]
SampleFn = Callable[[np.ndarray, np.ndarray], Any]


class GeneratorScorer:
    """Scores a generator against real test digits: FID, its real-data floor and accuracy.

    The real statistics and the floor are computed once; each call draws the same
    ``num_samples`` noise vectors, asked for the classes of the floor's real digits, so
    scores are comparable across evaluations and with the floor.
    """

    def __init__(
        self,
        reader: ClassifierReader,
        real_test: np.ndarray,
        real_train: tuple[np.ndarray, np.ndarray],
        num_samples: int,
        noise_dim: int,
        seed: int,
        num_classes: int = networks.DIGIT_CLASSES,
    ) -> None:
        self.reader = reader
        self.seed = seed
        self.test_moments = moments(reader.features_and_logits(real_test)[0])
        self.test_digits = record.data_fingerprint(real_test)
        # FID is biased by the sample size and moved by the mix of classes: the floor and the
        # generated FID are both computed from ``count`` digits, never more than there are
        # real train digits for the floor, and the generator is asked for the classes of those.
        train_x, train_y = real_train
        count = min(num_samples, len(train_x))
        self.floor = frechet_distance(
            moments(reader.features_and_logits(train_x[:count])[0]), self.test_moments
        )
        self.noise_dim = noise_dim
        self.labels = self.labels_like(train_y[:count], count, num_classes)

    @property
    def num_samples(self) -> int:
        """Generated digits scored per evaluation (as many as the floor's real digits)."""
        return len(self.labels)

    @property
    def scoring(self) -> str:
        """How the FID is read, for comparing it with FIDs read before (the best checkpoint)."""
        reader = distribute.fingerprint([self.reader.extractor])
        # The classifier and the test digits too: a resumed run scored by another classifier,
        # or against other test digits (the record fingerprints the training digits alone),
        # keeps no best from before.
        return (
            f"{self.num_samples} digits asked for the classes of as many real ones, classifier {reader}"
            f"{checkpoints.TEST_DIGITS}{self.test_digits}"
        )

    @staticmethod
    def labels_like(reference: np.ndarray, num_samples: int, num_classes: int) -> np.ndarray:
        """``num_samples`` labels with the class mix of the real digits in ``reference``: as
        many of each class, every class in turn while its count lasts, repeated from the start
        past ``len(reference)``. A reference of equal counts gives 0, 1, ..., k-1, 0, 1, ...

        FID against the test digits moves with the share of each class, so generated digits
        asked for the classes of the real ones they are compared with carry the same share."""
        counts = np.bincount(np.asarray(reference, dtype=np.int64), minlength=num_classes)
        if counts.sum() == 0:
            raise ValueError("no reference labels to take the class mix from")
        classes = np.repeat(np.arange(num_classes), counts)
        rank = np.concatenate([np.arange(n) for n in counts])
        one_set = classes[np.lexsort((classes, rank))]  # by rank, then class: round robin
        return np.resize(one_set, num_samples).astype(np.int32)

    @staticmethod
    def draw(sample_fn: SampleFn, labels: np.ndarray, noise_dim: int, seed: int, batch: int) -> np.ndarray:
        """Images of ``labels`` for the seeded noise, in batches."""
        noise = networks.fixed_noise(seed, len(labels), noise_dim)
        return np.concatenate(
            [
                np.asarray(sample_fn(noise[i : i + batch], labels[i : i + batch]))
                for i in range(0, len(labels), batch)
            ]
        )

    def generate(self, sample_fn: SampleFn) -> np.ndarray:
        """Images for the fixed noise and labels."""
        return self.draw(sample_fn, self.labels, self.noise_dim, self.seed, self.reader.batch_size)

    def __call__(self, sample_fn: SampleFn) -> dict[str, float]:
        features, logits = self.reader.features_and_logits(self.generate(sample_fn))
        return {
            "fid": frechet_distance(moments(features), self.test_moments),
            "fid_floor": self.floor,
            "accuracy": accuracy(logits, self.labels),
        }
