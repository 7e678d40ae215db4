"""The settings of the commands that use a trained generator: ``generate.py`` and
``evaluate.py`` (see :mod:`mnist_gan.configs` for how they are filled)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from mnist_gan.runtime import limits
from mnist_gan.runtime.config import Config, option
from mnist_gan.runtime.errors import ConfigError

STEP_HELP = (
    "checkpoint to load: newest (or 0), best (lowest FID while training: its best/ folder) or a step number"
)


@dataclasses.dataclass(frozen=True)
class GenerateConfig(Config):
    """Settings of ``generate.py``."""

    DEFAULTS_FILE: ClassVar[str] = "generate.yaml"
    PATH_KEYS: ClassVar[tuple[str, ...]] = ("checkpoint_dir", "output_dir", "export")
    LIST_KEYS: ClassVar[tuple[str, ...]] = ("classes",)
    # --digits and a YAML file's 'digits:' from before classes had names.
    HIDDEN_FLAGS: ClassVar[tuple[tuple[str, str, Any], ...]] = (("--digits", "classes", None),)
    RENAMED_KEYS: ClassVar[dict[str, str]] = {"digits": "classes"}
    RANGES: ClassVar[dict[str, limits.Range]] = {
        "count": (1, 100_000, True),
        "interpolation_frames": (2, 10_000, True),
    }

    checkpoint_dir: str = option("GAN checkpoint folder (./train.py --save-dir)")
    step: str = option(STEP_HELP)
    output_dir: str = option("folder for the PNGs, grid.png and the interpolations")
    classes: str = option(
        "classes to draw, comma-separated: names (any case), indices or ranges, e.g. 3,5,7 or 0-9 "
        'or "T-shirt/top,Trouser" (in YAML also a list); a name holding a comma only by its '
        "index; default: every class of the run"
    )
    count: int = option("images per class")
    seed: int = option("random seed: the same seed gives the same images, bit for bit")
    interpolate: bool = option("also write a latent-space walk per class (PNG strip and GIF)")
    interpolation_frames: int = option("frames of each latent walk")
    export: str = option("if set: write only a TF SavedModel of the generator into this folder (no pictures)")
    overwrite: bool = option(
        "replace the pictures of an earlier run in --output-dir (or the SavedModel in --export); "
        "other files are never touched"
    )

    def validate(self) -> None:
        limits.check_step(self.step)


@dataclasses.dataclass(frozen=True)
class EvaluateConfig(Config):
    """Settings of ``evaluate.py``."""

    DEFAULTS_FILE: ClassVar[str] = "evaluate.yaml"
    PATH_KEYS: ClassVar[tuple[str, ...]] = ("checkpoint_dir", "classifier_dir", "data_dir", "output")
    HIDDEN_FLAGS: ClassVar[tuple[tuple[str, str, Any], ...]] = (
        ("--num-samples", "eval_samples", None),
        ("--skip-cas", "cas", False),
        ("--no-skip-cas", "cas", True),
    )
    RANGES: ClassVar[dict[str, limits.Range]] = {
        "eval_samples": (0, 10_000_000, True),
        "cas_epochs": (1, 10_000, True),
        "cas_readings": (1, 100, True),
    }

    checkpoint_dir: str = option("GAN checkpoint folder (./train.py --save-dir)")
    step: str = option(STEP_HELP)
    classifier_dir: str = option(
        "trained classifier (./classifier.py --save-dir); default: the one the GAN was trained with"
    )
    data_dir: str = option(
        "the dataset to compare with (IDX files or an image folder); default: the GAN's training data"
    )
    eval_samples: int = option(
        "generated digits to score (and real train digits for references; where the split holds "
        "fewer, FID, precision/recall, CAS and memorisation use as many generated digits as it "
        "does); 0: as many as the test split holds, at most 10,000"
    )
    seed: int = option("random seed of the generated digits and of CAS training")
    cas: bool = option("also score CAS (it trains classifiers: the slow part)")
    cas_epochs: int = option("epochs of each CAS classifier")
    cas_readings: int = option(
        "CAS classifiers trained on each side (generated, real), each with its own seed; CAS is "
        "their mean (one classifier's reading moves with its seed by about a point)"
    )
    output: str = option(
        "JSON file for the metrics; default: CHECKPOINT_DIR/eval/metrics-<step>.json; '-': write none"
    )
    overwrite: bool = option("replace the metrics JSON (and its picture) of an earlier evaluation")

    def validate(self) -> None:
        limits.check_step(self.step)
        if 0 < self.eval_samples < limits.MIN_EVAL_SAMPLES:
            raise ConfigError(
                f"eval_samples must be 0 (the test split) or >= {limits.MIN_EVAL_SAMPLES}, "
                f"got {self.eval_samples}"
            )
