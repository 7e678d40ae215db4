"""Drawing digits from a trained generator: samples, latent walks, and a SavedModel export.

Noise comes from stateless ops keyed by the seed, and pixels are converted to uint8 inside
TensorFlow, so ``generate.py`` and the exported SavedModel give the same bytes for the
same seed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from mnist_gan import configs
from mnist_gan.models import networks
from mnist_gan.runtime import checkpoints, config, files, record


def parse_digits(text: str) -> list[int]:
    """'0-9', '3,5,7' or '3 5 7' -> the digits; anything outside 0-9 is refused."""
    digits: list[int] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if re.fullmatch(r"\d-\d", part) and part[0] <= part[2]:
            digits.extend(range(int(part[0]), int(part[2]) + 1))
        elif re.fullmatch(r"\d", part):
            digits.append(int(part))
        else:
            raise config.ConfigError(f"digits: '{part}' is not a digit 0-9 or a range like 0-9")
    return digits


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] floats (N, 28, 28, 1) -> uint8 (N, 28, 28), rounding half to even."""
    pixels = tf.clip_by_value(tf.round((tf.cast(images, tf.float32) + 1.0) * 127.5), 0.0, 255.0)
    return tf.cast(pixels[..., 0], tf.uint8)


def seeded_noise(seed: tf.Tensor | int, count: tf.Tensor | int, noise_dim: int, stream: int = 0) -> tf.Tensor:
    """Noise (count, noise_dim) fixed by (seed, stream) alone."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(stream, tf.int64)])
    return tf.random.stateless_normal(tf.stack([tf.cast(count, tf.int32), noise_dim]), seed=key)


class Loaded(NamedTuple):
    """A trained generator and what made it."""

    generator: keras.Model
    cfg: configs.GanConfig
    path: str  # the checkpoint
    class_names: list[str]


def load_generator(checkpoint_dir: str | Path, step: int | str = "newest") -> Loaded:
    """The generator of the GAN checkpoint in ``checkpoint_dir`` (newest, best, or at ``step``).

    It is the moving average of the trained generator's weights, or the trained generator
    itself in checkpoints written before the average existed.
    """
    found = record.read(checkpoint_dir, configs.GanConfig.SAVED_AS)
    path = checkpoints.latest(checkpoint_dir, step) if found is not None else None
    if found is None or path is None:
        raise checkpoints.CheckpointError(
            f"{checkpoint_dir}: no trained GAN here; run ./train.py first "
            "(or point --checkpoint-dir at its --save-dir)"
        )
    source = str(Path(checkpoint_dir) / configs.GanConfig.SAVED_AS)
    cfg = config.from_saved(configs.GanConfig, found[0], source)
    names = record.classes(found[1])
    generator = networks.build_generator(cfg.noise_dim, cfg.gen_width, len(names))
    # The averaged generator where the checkpoint has one (written since it was introduced).
    name = "generator_ema" if checkpoints.holds_object(path, "generator_ema") else "generator"
    checkpoints.restore(tf.train.Checkpoint(**{name: generator}), path, partial=True)
    return Loaded(generator, cfg, path, names)


class DigitSampler(tf.Module):
    """The generator wrapped for drawing and for export as a SavedModel."""

    def __init__(self, generator: keras.Model, noise_dim: int) -> None:
        super().__init__(name="digit_sampler")
        self.generator = generator
        self.noise_dim = noise_dim
        labels = tf.TensorSpec([None], tf.int32, name="labels")
        self.generate = tf.function(
            self._generate,
            input_signature=[labels, tf.TensorSpec([None, noise_dim], tf.float32, name="noise")],
        )
        self.sample = tf.function(
            self._sample, input_signature=[labels, tf.TensorSpec([], tf.int64, name="seed")]
        )

    def _generate(self, labels: tf.Tensor, noise: tf.Tensor) -> dict[str, tf.Tensor]:
        # A label outside 0-9 would otherwise one-hot to zeros and draw a blur, silently.
        checks = [
            tf.debugging.assert_greater_equal(labels, 0, message="labels must be digits 0-9"),
            tf.debugging.assert_less_equal(labels, 9, message="labels must be digits 0-9"),
        ]
        with tf.control_dependencies(checks):
            return {"images": to_uint8(self.generator([noise, tf.identity(labels)], training=False))}

    def _sample(self, labels: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._generate(labels, seeded_noise(seed, tf.size(labels), self.noise_dim))

    def digits(self, digits: list[int], count: int, seed: int) -> np.ndarray:
        """uint8 (len(digits), count, 28, 28): row i holds ``count`` samples of digits[i]."""
        labels = tf.constant(np.repeat(np.asarray(digits, np.int32), count))
        images = self.sample(labels, tf.constant(seed, tf.int64))["images"].numpy()
        return images.reshape(len(digits), count, 28, 28)

    def walk(self, digit: int, frames: int, seed: int) -> np.ndarray:
        """uint8 (frames, 28, 28): one digit along a great-circle path between two noises."""
        ends = seeded_noise(seed, 2, self.noise_dim, stream=1 + digit).numpy().astype(np.float64)
        a, b = ends
        omega = np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))
        t = np.linspace(0.0, 1.0, frames)[:, None]
        path = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
        labels = tf.fill([frames], tf.constant(digit, tf.int32))
        return self.generate(labels, tf.constant(path, tf.float32))["images"].numpy()

    def export(self, folder: str | Path) -> Path:
        """Write a SavedModel: signatures 'serving_default' (labels, noise) and 'sample' (labels, seed)."""
        tf.saved_model.save(
            self, str(folder), signatures={"serving_default": self.generate, "sample": self.sample}
        )
        return Path(folder)


# The files generate.py writes into --output-dir: only these are ever replaced or removed.
OWN_FILES = re.compile(r"digit\d_\d{4}\.png|grid\.png|interpolation_\d\.(png|gif)")


GIF_SCALE = 4


def check_output_dir(path: str | Path, overwrite: bool = False, flag: str = "--output-dir") -> list[Path]:
    """Refuse an output path that is a file, or a folder holding anything but an earlier
    run's pictures, or those pictures without ``overwrite``. Returns the earlier pictures,
    to be removed before writing so that the folder holds one run only."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise config.ConfigError(f"{p} is a file, not a folder; pass another {flag}")
    if not p.is_dir():
        return []
    entries = [e for e in p.iterdir() if not e.name.startswith(".")]
    foreign = [e for e in entries if not (e.is_file() and OWN_FILES.fullmatch(e.name))]
    if foreign:
        raise config.ConfigError(
            f"{p} holds files generate.py did not write (e.g. {foreign[0].name}); pass an empty or new {flag}"
        )
    if entries and not overwrite:
        raise config.ConfigError(
            f"{p} holds the {len(entries)} pictures of an earlier run; pass --overwrite to replace "
            f"them, or another {flag}"
        )
    return entries


def check_export_dir(path: str | Path, overwrite: bool) -> None:
    """Refuse an export folder that holds anything, unless it is a SavedModel and ``overwrite``."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise config.ConfigError(f"{p} is a file, not a folder; pass another --export")
    if p.is_dir() and any(p.iterdir()):
        if not (p / "saved_model.pb").is_file():
            raise config.ConfigError(
                f"{p} is not empty and holds no SavedModel; pass an empty or new --export"
            )
        if not overwrite:
            raise config.ConfigError(f"{p} holds a SavedModel; pass --overwrite to replace it")


def write_outputs(cfg: configs.GenerateConfig) -> dict[str, list[Path]]:
    """Everything ``generate.py`` writes, checked before a single file is touched.

    With ``export`` set only the SavedModel is written (the pictures are another run).
    Returns the written paths by kind: 'digits', 'grid', 'interpolation', 'export'.
    """
    from mnist_gan import pictures

    digits = parse_digits(cfg.digits)
    if cfg.count < 1:
        raise config.ConfigError(f"count must be >= 1, got {cfg.count}")
    if cfg.interpolate and cfg.interpolation_frames < 2:
        raise config.ConfigError(f"interpolation_frames must be >= 2, got {cfg.interpolation_frames}")
    out = Path(cfg.output_dir)
    earlier: list[Path] = []
    if cfg.export:
        check_export_dir(cfg.export, cfg.overwrite)
        files.check_writable_target(cfg.export, "--export")
    else:
        earlier = check_output_dir(out, cfg.overwrite)
        files.check_writable_target(out, "--output-dir")
    generator, gan_cfg, _, _ = load_generator(cfg.checkpoint_dir, cfg.step)
    sampler = DigitSampler(generator, gan_cfg.noise_dim)
    written: dict[str, list[Path]] = {"digits": [], "grid": [], "interpolation": [], "export": []}
    if cfg.export:
        written["export"].append(sampler.export(cfg.export))
        return written
    for path in earlier:
        path.unlink()

    drawn = sampler.digits(digits, cfg.count, cfg.seed)
    for row, digit in enumerate(digits):
        for i in range(cfg.count):
            # A digit asked for twice gets its second row numbered on, never overwritten.
            index = sum(d == digit for d in digits[:row]) * cfg.count + i
            written["digits"].append(pictures.save_png(out / f"digit{digit}_{index:04d}.png", drawn[row, i]))
    grid = pictures.label_rows(
        pictures.grid(drawn.reshape(-1, 28, 28), len(digits), cfg.count), [str(d) for d in digits], 28
    )
    written["grid"].append(pictures.save_png(out / "grid.png", grid))
    if cfg.interpolate:
        for digit in dict.fromkeys(digits):
            frames = sampler.walk(digit, cfg.interpolation_frames, cfg.seed)
            strip = pictures.grid(frames, 1, len(frames))
            written["interpolation"].append(pictures.save_png(out / f"interpolation_{digit}.png", strip))
            # 28x28 is a thumbnail on screen: the GIF is enlarged 4x, pixels kept sharp.
            gif = pictures.save_gif(out / f"interpolation_{digit}.gif", pictures.upscale(frames, GIF_SCALE))
            written["interpolation"].append(gif)
    return written
