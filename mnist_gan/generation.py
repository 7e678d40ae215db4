"""A trained generator: loading it, choosing classes by name, drawing, a SavedModel export.

Noise comes from stateless ops keyed by the seed, and pixels are converted to uint8 inside
TensorFlow, so ``generate.py`` and the exported SavedModel give the same bytes for the
same seed.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from mnist_gan import configs
from mnist_gan.models import networks
from mnist_gan.runtime import checkpoints, config, record


def _resolve(item: str, class_names: list[str]) -> list[int] | None:
    """One item of ``--classes`` -> its class indices, or None if it names no class."""
    if item in class_names:
        return [class_names.index(item)]
    folded = [i for i, name in enumerate(class_names) if name.casefold() == item.casefold()]
    if len(folded) == 1:
        return folded
    if folded:  # 'ÉTÉ' with classes 'Été' and 'été': which one is not ours to guess
        shown = " and ".join(repr(class_names[i]) for i in folded)
        raise config.ConfigError(f"classes: '{item}' matches {shown} but for case; write it as one of them")
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", item, re.ASCII)  # not '٣', which int() reads as 3
    if match is None:
        return None
    # Classes named by numbers other than their own indices (folders 1..10): a number that is
    # not a name would be read as an index of another class, so only names are taken.
    numbered = any(name.isdigit() for name in class_names)
    if numbered and class_names != [str(i) for i in range(len(class_names))]:
        raise config.ConfigError(
            f"classes: '{item}' is not a class of this run, whose classes are named by numbers other "
            f"than their indices, so it is not read as an index; its classes: {_show_classes(class_names)}"
        )
    low, high = int(match[1]), int(match[2] or match[1])
    return list(range(low, high + 1)) if low <= high < len(class_names) else None


def _show_classes(class_names: list[str], most: int = 20) -> str:
    """The first ``most`` names, quoted (a name may hold spaces), for an error message."""
    shown = ", ".join(repr(name) for name in class_names[:most])
    return shown + (f", ... ({len(class_names)} in all)" if len(class_names) > most else "")


def parse_classes(text: str, class_names: list[str]) -> list[int]:
    """'3,5,7', '0-9', 'T-shirt/top,trouser' -> class indices in the order asked; '' -> all.

    Each comma-separated item is a class name (exact, else case-insensitive), an index or a
    range of indices ``a-b``. Spaces separate items too when no class name holds one (so
    MNIST's '3 5 7' still works).
    """
    if not text.strip():
        return list(range(len(class_names)))
    if re.search(r",\s*,", text):  # '3,,5': a class left out between the commas?
        raise config.ConfigError(
            f"classes: {text!r} has an empty item between two commas; name a class there"
        )
    spaced = any(re.search(r"\s", name) for name in class_names)
    items = [i.strip() for i in re.split(r"," if spaced else r"[,\s]+", text) if i.strip()]
    chosen: list[int] = []
    for item in items:
        found = _resolve(item, class_names)
        if found is None:
            raise config.ConfigError(
                f"classes: '{item}' is neither a class of this run nor an index or range in "
                f"0-{len(class_names) - 1}; its classes: {_show_classes(class_names)}"
            )
        chosen.extend(found)
    if not chosen:
        raise config.ConfigError(
            f"classes: {text!r} names no class; its classes: {_show_classes(class_names)}"
        )
    return chosen


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] floats (N, 28, 28, 1) -> uint8 (N, 28, 28), rounding half to even."""
    pixels = tf.clip_by_value(tf.round((tf.cast(images, tf.float32) + 1.0) * 127.5), 0.0, 255.0)
    return tf.cast(pixels[..., 0], tf.uint8)


def seeded_noise(seed: tf.Tensor | int, count: tf.Tensor | int, noise_dim: int, stream: int = 0) -> tf.Tensor:
    """Noise (count, noise_dim) fixed by (seed, stream) alone, drawn in the graph so that the
    SavedModel's ``sample`` signature gives ``generate.py``'s bytes; the scores use NumPy's
    :func:`mnist_gan.models.networks.fixed_noise` instead."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(stream, tf.int64)])
    return tf.random.stateless_normal(tf.stack([tf.cast(count, tf.int32), noise_dim]), seed=key)


class Loaded(NamedTuple):
    """A trained generator and what made it."""

    generator: keras.Model
    cfg: configs.GanConfig
    path: str  # the checkpoint
    class_names: list[str]
    run: dict  # the folder's run record (mnist_gan.runtime.record)


def load_generator(checkpoint_dir: str | Path, step: int | str = "newest") -> Loaded:
    """The generator of the GAN checkpoint in ``checkpoint_dir`` (newest, best, or at ``step``).

    It is the moving average of the trained generator's weights, or the trained generator
    itself in checkpoints written before the average existed.
    """
    source = str(Path(checkpoint_dir) / configs.GanConfig.SAVED_AS)
    nothing_here = checkpoints.CheckpointError(
        f"{checkpoint_dir}: no trained GAN here; run ./train.py first "
        "(or point --checkpoint-dir at its --save-dir)"
    )
    found = record.read(checkpoint_dir, configs.GanConfig.SAVED_AS)
    if found is None:
        theirs = configs.run_kind(checkpoint_dir)
        if theirs is not None:
            raise checkpoints.CheckpointError(
                f"{checkpoint_dir} holds a {theirs} run, not a GAN; point --checkpoint-dir at "
                "./train.py's --save-dir"
            )
        if checkpoints.found(checkpoint_dir):
            raise checkpoints.CheckpointError(
                f"{source} is missing beside the checkpoints: it says how the networks were "
                "built; put it back (or point --checkpoint-dir at a whole --save-dir of train.py)"
            )
        raise nothing_here
    path = checkpoints.latest(checkpoint_dir, step)
    if path is None:
        raise nothing_here
    cfg = config.from_saved(configs.GanConfig, found[0], source)
    names = record.classes(found[1])
    generator = networks.generator_for(cfg, len(names))
    # The averaged generator where the checkpoint has one (written since it was introduced).
    name = "generator_ema" if checkpoints.holds_object(path, "generator_ema") else "generator"
    checkpoints.restore(tf.train.Checkpoint(**{name: generator}), path, partial=True)
    return Loaded(generator, cfg, path, names, found[1])


# Images per pass of the generator when drawing: its activations for a whole large --count
# at once would not fit in memory.
DRAW_BATCH = 1000


class ClassSampler(tf.Module):
    """The generator wrapped for drawing and for export as a SavedModel that knows its classes."""

    def __init__(self, generator: keras.Model, noise_dim: int, class_names: list[str]) -> None:
        super().__init__(name="class_sampler")
        self.generator = generator
        self.noise_dim = noise_dim
        self.num_classes = len(class_names)
        # Captured by the 'classes' function, so saved with the model and readable from it.
        self.names = tf.constant(class_names, tf.string)
        labels = tf.TensorSpec([None], tf.int32, name="labels")
        self.generate = tf.function(
            self._generate,
            input_signature=[labels, tf.TensorSpec([None, noise_dim], tf.float32, name="noise")],
        )
        self.sample = tf.function(
            self._sample, input_signature=[labels, tf.TensorSpec([], tf.int64, name="seed")]
        )
        self.classes = tf.function(self._classes, input_signature=[])

    def _classes(self) -> dict[str, tf.Tensor]:
        return {"class_names": self.names}

    def _generate(self, labels: tf.Tensor, noise: tf.Tensor) -> dict[str, tf.Tensor]:
        # A label out of range would otherwise one-hot to zeros and draw a blur, silently.
        message = f"labels must be class indices 0-{self.num_classes - 1}"
        checks = [
            tf.debugging.assert_greater_equal(labels, 0, message=message),
            tf.debugging.assert_less(labels, self.num_classes, message=message),
        ]
        with tf.control_dependencies(checks):
            return {"images": to_uint8(self.generator([noise, tf.identity(labels)], training=False))}

    def _noise(self, labels: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """The noise of ``sample``, one vector a label, fixed by the seed and the label count."""
        return seeded_noise(seed, tf.size(labels), self.noise_dim)

    def _sample(self, labels: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._generate(labels, self._noise(labels, seed))

    def draw(self, classes: list[int], count: int, seed: int) -> np.ndarray:
        """uint8 (len(classes), count, 28, 28): row i holds ``count`` samples of class classes[i].

        The noise of ``sample`` for the whole label vector, drawn through the generator
        :data:`DRAW_BATCH` images at a time (in one pass, large counts ran out of memory)."""
        labels = tf.constant(np.repeat(np.asarray(classes, np.int32), count))
        noise = self._noise(labels, tf.constant(seed, tf.int64))
        images = np.concatenate(
            [
                self.generate(labels[i : i + DRAW_BATCH], noise[i : i + DRAW_BATCH])["images"].numpy()
                for i in range(0, int(labels.shape[0]), DRAW_BATCH)
            ]
        )
        return images.reshape(len(classes), count, 28, 28)

    def walk(self, label: int, frames: int, seed: int) -> np.ndarray:
        """uint8 (frames, 28, 28): one class along a great-circle path between two noises."""
        ends = seeded_noise(seed, 2, self.noise_dim, stream=1 + label).numpy().astype(np.float64)
        a, b = ends
        omega = np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))
        t = np.linspace(0.0, 1.0, frames)[:, None]
        path = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
        labels = tf.fill([frames], tf.constant(label, tf.int32))
        return self.generate(labels, tf.constant(path, tf.float32))["images"].numpy()

    def export(self, folder: str | Path) -> Path:
        """Write a SavedModel: signatures 'serving_default' (labels, noise), 'sample' (labels,
        seed) and 'classes' (the class names in label order).

        Written beside ``folder`` and moved into place whole (replacing an earlier SavedModel
        there), so an interrupted export leaves the folder as it was."""
        signatures = {"serving_default": self.generate, "sample": self.sample, "classes": self.classes}
        target = Path(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
        try:
            tf.saved_model.save(self, str(partial), signatures=signatures)
            earlier = partial.with_name(partial.name + "-replaced") if target.exists() else None
            if earlier is not None:
                target.rename(earlier)  # aside, not deleted, until the new one is in place
            partial.rename(target)
            if earlier is not None:
                shutil.rmtree(earlier)
        finally:
            shutil.rmtree(partial, ignore_errors=True)  # nothing left once moved into place
        return Path(folder)
