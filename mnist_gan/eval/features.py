"""The trained classifier as a feature extractor: the space every score is computed in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mnist_gan.models import networks


class ClassifierReader:
    """Reads images with the classifier: runs them through it once and returns its features
    and logits as NumPy (what every score is computed from; scoring is the callers')."""

    def __init__(self, extractor: keras.Model, batch_size: int = 500) -> None:
        self.extractor = extractor
        self.batch_size = batch_size
        self._predict = tf.function(lambda x: extractor(x, training=False), reduce_retracing=True)

    @classmethod
    def of(cls, classifier: keras.Model) -> ClassifierReader:
        """The reader of a classifier built by :func:`mnist_gan.models.networks.build_classifier`."""
        return cls(networks.feature_extractor(classifier))

    def features_and_logits(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images (N, 28, 28, 1) in [-1, 1] -> features (N, D), logits (N, classes)."""
        feats, logits = [], []
        for start in range(0, len(images), self.batch_size):
            f, lg = self._predict(tf.convert_to_tensor(images[start : start + self.batch_size]))
            feats.append(f.numpy())
            logits.append(lg.numpy())
        return np.concatenate(feats), np.concatenate(logits)


def other_data_note(folder: str | Path, fingerprint: str) -> str | None:
    """A note when the classifier in ``folder`` was trained on other training images than
    those of ``fingerprint``: then its test images may be images the GAN trained on."""
    from mnist_gan import configs
    from mnist_gan.runtime import record

    found = record.read(folder, configs.ClassifierConfig.SAVED_AS)
    theirs = found[1].get("data_fingerprint") if found is not None else None
    why = "scores compare like with like only with the same data and split"
    return other_images_note(f"the classifier in {folder}", theirs, fingerprint, why)


def other_images_note(who: str, theirs: str | None, fingerprint: str, why: str) -> str | None:
    """A note when ``who``, whose record holds the data fingerprint ``theirs``, was trained on
    other training images than those of ``fingerprint`` (none when unrecorded or the same)."""
    if theirs is None or theirs == fingerprint:
        return None
    return f"{who} was trained on other training images ({theirs}) than these ({fingerprint}); {why}"


def train_one(data_dir: str = "", class_names: str = "", test_fraction: float | None = None) -> str:
    """What to do without a classifier of these classes: the ./classifier.py command for the
    data, with the class names or test split the GAN was given where they apply to it (a
    classifier given other names would be refused again; another split trains it on other
    images)."""
    from mnist_gan.configs import ClassifierConfig
    from mnist_gan.data import sources
    from mnist_gan.runtime import flags
    from mnist_gan.runtime.config import defaults

    command = ["./classifier.py", flags.setting("data_dir", data_dir) if data_dir else "--data-dir ..."]
    given = {"class_names": class_names, "test_fraction": test_fraction}
    default = defaults(ClassifierConfig)
    for key in sources.keys_that_apply(Path(data_dir)) if data_dir else ():
        if given[key] not in (None, "", getattr(default, key)):
            command.append(flags.setting(key, given[key]))
    command.append("--save-dir ...")
    return f"train a classifier on this data ({' '.join(command)}) and pass that folder as --classifier-dir"


def load_classifier(
    folder: str | Path,
    classes: list[str] | None = None,
    instead: str = "",
    without: str = "",
    train: str = "",
) -> Any:
    """The trained classifier from ``folder`` (its saved config says how to build it).

    With ``classes``, a classifier trained on other classes is refused, naming both lists
    and ``instead``, a classifier of those classes if the caller knows one, or else ``train``
    (:func:`train_one`'s advice). ``without``: how the caller can do without a classifier,
    said beside the other ways out.
    """
    from mnist_gan import configs
    from mnist_gan.data import sources
    from mnist_gan.models import networks
    from mnist_gan.runtime import checkpoints, config, record
    from mnist_gan.runtime.errors import CheckpointError

    found = record.read(folder, configs.ClassifierConfig.SAVED_AS)
    theirs = configs.run_kind(folder) if found is None else None
    if theirs is not None:  # before its checkpoints are looked at: they are not ours to judge
        raise CheckpointError(
            f"{folder} holds a {theirs} run, not a classifier; point --classifier-dir "
            "at ./classifier.py's --save-dir" + (f", or {without}" if without else "")
        )
    path = checkpoints.latest(folder)
    if found is None or path is None:
        raise CheckpointError(
            f"{folder}: no trained classifier here; run ./classifier.py first "
            "(or point --classifier-dir at its --save-dir)" + (f", or {without}" if without else "")
        )
    trained_on = record.classes(found[1], classes)
    if classes is not None:
        sources.check_classes(
            trained_on,
            classes,
            f"the classifier in {folder}",
            (f"use the GAN's own: --classifier-dir {instead}" if instead else train or train_one())
            + (f", or {without}" if without else ""),
        )
    source = str(Path(folder) / configs.ClassifierConfig.SAVED_AS)
    cfg = config.from_saved(configs.ClassifierConfig, found[0], source)
    model = networks.build_classifier(cfg.width, cfg.feature_dim, cfg.dropout, len(trained_on))
    checkpoints.restore(tf.train.Checkpoint(model=model), path, partial=True)
    return model
