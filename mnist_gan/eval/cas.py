"""Classification accuracy score (CAS): how well a classifier trained on generated digits
recognises real ones."""

from __future__ import annotations

import keras
import numpy as np

from mnist_gan.models import networks


def classification_accuracy_score(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    *,
    epochs: int = 5,
    seed: int = 0,
    num_classes: int = networks.DIGIT_CLASSES,
    width: int = 32,
    feature_dim: int = 128,
) -> float:
    """CAS (Ravuri & Vinyals 2019): train a fresh classifier on ``train_*``, test on ``test_*``.

    With generated digits and their asked-for labels as the training set, a high score
    means the generator's digits carry what a classifier needs to know real ones.
    """
    keras.utils.set_random_seed(seed)
    model = networks.build_classifier(width, feature_dim, 0.3, num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_images, train_labels, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    _, acc = model.evaluate(test_images, test_labels, batch_size=500, verbose=0)
    return float(acc)
