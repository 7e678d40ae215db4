"""The settings of each command: which keys exist, their types, ranges and help.

The YAML files beside this module hold every default; :mod:`mnist_gan.runtime.config`
fills these dataclasses from them, a user's YAML and the flags. A config checks its own
values once, when it is built.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from mnist_gan.runtime import limits, precision
from mnist_gan.runtime.config import Config, option
from mnist_gan.runtime.errors import ConfigError

STRATEGIES = ("auto", "mirrored", "default", "multiworker")
# The network options' values (mnist_gan.models.networks builds them).
GEN_CONDITIONING = ("input", "batchnorm", "noise")
GEN_OUTPUT = ("transposed", "conv")
GEN_NOISE_WEIGHTS = ("shared", "per_class")
CRITIC_EMBEDDING = ("spectral", "plain")
# Where the mode-seeking term measures how far apart two digits lie.
MODE_SEEKING_SPACES = ("images", "critic")
WEIGHT_INIT = ("glorot", "orthogonal")
# Where ./download_mnist.sh puts MNIST: the data of a new run when no --data-dir is given.
DEFAULT_DATA_DIR = "datasets/MNIST"


@dataclasses.dataclass(frozen=True)
class RunConfig(Config):
    """The keys of every training run: its data, folders, hardware and resume rules."""

    PATH_KEYS: ClassVar[tuple[str, ...]] = ("data_dir", "save_dir", "log_dir")
    RANGES: ClassVar[dict[str, limits.Range]] = {
        "cpu_replicas": (0, 1024, True),
        "collective_timeout": (0, None, False),
        "keep_checkpoints": (1, 10_000, True),
        "test_fraction": (0, 1, False, False),
    }

    data_dir: str = option(
        "the dataset: a folder with the four IDX files (gzipped or not), or a folder of images "
        "with one sub-folder per class (ROOT/<class>/*.png, or ROOT/train/<class>/ and ROOT/test/<class>/); "
        f"default: the one the run in --save-dir was trained on, for a new run {DEFAULT_DATA_DIR}"
    )
    test_fraction: float = option(
        "an image folder without train/ and test/: the share of each class held out as test images "
        "(a fixed split, the same for every run)"
    )
    class_names: str = option(
        "IDX files: the class names in label order, comma-separated (default: the folder's "
        "classes.txt, else the label numbers)"
    )
    save_dir: str = option("checkpoint folder")
    log_dir: str = option("TensorBoard folder; each run writes a timestamped sub-folder")
    batch_size: int = option("global batch size, split across replicas")
    strategy: str = option(
        "auto: MirroredStrategy over all GPUs (or the CPU replicas), else the default; "
        "multiworker: MultiWorkerMirroredStrategy over the machines in TF_CONFIG",
        choices=STRATEGIES,
    )
    cpu_replicas: int = option("split the CPU into N logical devices (N >= 2 mirrors over them)")
    collective_timeout: float = option("multiworker: seconds a collective waits for a lost worker")
    seed: int = option("random seed")
    keep_checkpoints: int = option("checkpoints kept in --save-dir (older ones are deleted)")
    continue_with_changes: bool = option(
        "resume the run in --save-dir although training settings differ (recorded in its history)"
    )
    start_over: bool = option(
        "if --save-dir holds a different run: move its checkpoints aside into replaced-<time>/ "
        "and start afresh"
    )


@dataclasses.dataclass(frozen=True)
class ClassifierConfig(RunConfig):
    """Settings of ``classifier.py``."""

    ARCHITECTURE_KEYS: ClassVar[tuple[str, ...]] = ("width", "feature_dim")
    DEFAULTS_FILE: ClassVar[str] = "classifier.yaml"
    SAVED_AS: ClassVar[str] = "config-cls.yaml"
    RANGES: ClassVar[dict[str, limits.Range]] = {
        **RunConfig.RANGES,
        "epochs": (1, 1_000_000, True),
        "learning_rate": (0, None, False),
        "dropout": (0, 1, True, False),
        "width": (1, 4096, True),
        "feature_dim": (1, 65536, True),
    }

    epochs: int = option("passes over the training set")
    learning_rate: float = option("Adam learning rate (cosine-decayed to 0)")
    dropout: float = option("dropout before the output layer")
    width: int = option("filters of the first conv block (doubled in the second)")
    feature_dim: int = option("size of the feature layer used for FID")
    augment: bool = option("random shifts of up to 2 pixels while training")


@dataclasses.dataclass(frozen=True)
class GanConfig(RunConfig):
    """Settings of ``train.py``."""

    ARCHITECTURE_KEYS: ClassVar[tuple[str, ...]] = (
        "noise_dim",
        "gen_width",
        "critic_width",
        "gen_conditioning",
        "gen_noise_weights",
        "gen_noise_weights_maps",
        "gen_class_mixing",
        "gen_blocks",
        "gen_output",
        "critic_blocks",
        "critic_blocks_7x7",
        "critic_class_bias",
        "critic_embedding",
        "critic_stddev_group",
        "gen_spectral_norm",
        "critic_spectral_norm",
    )
    BEFORE: ClassVar[dict[str, Any]] = {
        "gen_conditioning": "input",
        "gen_noise_weights": "shared",
        "gen_noise_weights_maps": 0,  # all of them
        "gen_class_mixing": False,
        "gen_blocks": 0,
        "gen_output": "transposed",
        "critic_embedding": "spectral",
        "critic_blocks": 0,
        "critic_blocks_7x7": 0,
        "critic_class_bias": False,
        "critic_stddev_group": 0,
        "weight_init": "glorot",
        "gen_spectral_norm": False,
        "critic_spectral_norm": True,
        # The training step before its weight average and augmentation existed.
        "ema_decay": 0.0,
        "critic_augment": "none",
        "critic_consistency": 0.0,
        "gen_mode_seeking": 0.0,
        "gen_mode_seeking_space": "images",
        "lr_decay_to": 0.0,  # a linear decay ended at zero
        "beta_1_early_steps": 0,
        "gen_lr_early_steps": 0,
        "gp_center": 1.0,  # WGAN-GP's penalty
        "gp_every": 1,  # the penalty on every critic update
    }
    INERT_WHEN: ClassVar[dict[str, tuple[str, Any]]] = {
        "lr_decay_to": ("lr_decay", "none"),
        "beta_1_early": ("beta_1_early_steps", 0),
        "gen_lr_early_factor": ("gen_lr_early_steps", 0),
        "gen_mode_seeking_space": ("gen_mode_seeking", 0.0),
        "gen_noise_weights_maps": ("gen_noise_weights", "shared"),
        "critic_augment_p": ("critic_augment", "none"),
        "critic_augment_target": ("critic_augment", "none"),
        "critic_augment_speed": ("critic_augment_target", 0.0),
    }
    DEFAULTS_FILE: ClassVar[str] = "gan.yaml"
    PATH_KEYS: ClassVar[tuple[str, ...]] = (*RunConfig.PATH_KEYS, "classifier_dir")
    SAVED_AS: ClassVar[str] = "config-gan.yaml"
    RANGES: ClassVar[dict[str, limits.Range]] = {
        **RunConfig.RANGES,
        "noise_dim": (1, 65536, True),
        "gen_width": (1, 4096, True),
        "critic_width": (1, 4096, True),
        "gen_blocks": (0, 16, True),
        "gen_noise_weights_maps": (0, 8192, True),
        "critic_blocks": (0, 16, True),
        "critic_blocks_7x7": (0, 16, True),
        "critic_stddev_group": (0, 1024, True),
        "steps": (1, 2**53, True),
        "epochs": (0, 1_000_000, True),
        "crit_steps": (1, 1000, True),
        "gp_weight": (0, None, True),
        "gp_every": (1, 1000, True),
        "gp_center": (0, None, True),
        "gen_lr": (0, None, False),
        "critic_lr": (0, None, False),
        "gen_lr_early_factor": (0, None, False),
        "gen_lr_early_steps": (0, 2**53, True),
        "beta_1": (0, 1, True, False),
        "beta_1_early": (0, 1, True, False),
        "beta_1_early_steps": (0, 2**53, True),
        "beta_2": (0, 1, True, False),
        "ema_decay": (0, 1, True, False),
        "critic_augment_p": (0, 1, True),
        "critic_augment_target": (0, 1, True, False),
        "critic_augment_speed": (1, 2**53, True),
        "critic_consistency": (0, None, True),
        "gen_mode_seeking": (0, None, True),
        "lr_decay_to": (0, 1, True),
        "steps_per_call": (1, 2**31 - 1, True),
        "save_every": (0, limits.INT64_MAX, True),
        "eval_every": (0, limits.INT64_MAX, True),
        "eval_samples": (1, 10_000_000, True),
    }

    save_dir: str = option("checkpoint folder; a checkpoint there is resumed")
    seed: int = option("random seed (weights, noise, data order)")
    keep_checkpoints: int = option(
        "checkpoints kept in --save-dir (older ones are deleted); the best by FID is kept apart in best/"
    )
    classifier_dir: str = option("trained classifier (./classifier.py --save-dir) for scoring")
    noise_dim: int = option("size of the generator's noise vector")
    gen_width: int = option("generator filters before the last upsampling (doubled before it)")
    critic_width: int = option("critic filters in its first conv (doubled in the second)")
    gen_blocks: int = option("extra 3x3 convolutions in the generator at 14x14")
    gen_output: str = option(
        "how the generator draws the image: transposed (its last transposed convolution) or "
        "conv (feature maps at 28x28, then a 3x3 convolution)",
        choices=GEN_OUTPUT,
    )
    gen_spectral_norm: bool = option(
        "spectrally normalise the generator's kernels too, as the critic's (SAGAN, BigGAN)"
    )
    critic_spectral_norm: bool = option(
        "spectrally normalise the critic's convolutions and score, as SNGAN (--no-critic-spectral-norm: "
        "the gradient penalty and the consistency term bound it)"
    )
    critic_blocks: int = option("extra 3x3 convolutions in the critic at 14x14")
    critic_blocks_7x7: int = option("extra 3x3 convolutions in the critic at 7x7, after its second stride")
    critic_class_bias: bool = option(
        "give the critic's first feature maps a bias of each class's own (zero at the start), "
        "so its first features can differ by class, not only its projection head "
        "(--no-critic-class-bias: the class only at the projection head, the default until 2026-12-07)"
    )
    critic_embedding: str = option(
        "the critic's class embedding: spectral (spectrally normalised like its other layers) or plain",
        choices=CRITIC_EMBEDDING,
    )
    critic_stddev_group: int = option(
        "minibatch standard deviation in the critic over groups of this many digits (0: none); "
        "the batch per replica must divide by it"
    )
    weight_init: str = option(
        "how the generator's and critic's weights start: glorot (Keras's default) or orthogonal "
        "(as BigGAN's)",
        choices=WEIGHT_INIT,
    )
    gen_conditioning: str = option(
        "where the class enters the generator: input (beside the noise), batchnorm (also a "
        "scale and shift per class in every batch norm) or noise (every batch norm's scale and "
        "shift from the class and the noise, as BigGAN-deep's)",
        choices=GEN_CONDITIONING,
    )
    gen_noise_weights: str = option(
        "the generator's first layer reads the noise through weights shared by every class "
        "(shared) or also through a set of its class's own (per_class)",
        choices=GEN_NOISE_WEIGHTS,
    )
    gen_noise_weights_maps: int = option(
        "with --gen-noise-weights per_class: how many of the first layer's 7x7 feature maps "
        "(2 x --gen-width) read the noise through the class's own weights; 0 or more than "
        "there are: all of them"
    )
    gen_class_mixing: bool = option(
        "follow every generator block's batch norm with a 1x1 convolution of the class's own "
        "(residual, zero at the start): each class combines the feature maps its own way"
    )
    steps: int = option("generator steps to train to (counting steps of a resumed run)")
    epochs: float = option("if > 0: train this many passes over the data instead of --steps")
    crit_steps: int = option("critic updates per generator update")
    gp_weight: float = option("gradient penalty weight (lambda)")
    gp_center: float = option(
        "the gradient norm the penalty pulls towards: 1 (WGAN-GP) or 0 (zero-centred, Thanh-Tung et al. 2019)"
    )
    gp_every: int = option(
        "compute the gradient penalty on every k-th critic update only, with k times the "
        "weight (lazy regularisation, as StyleGAN2)"
    )
    gen_lr: float = option("generator Adam learning rate")
    gen_lr_early_factor: float = option(
        "the generator's learning rate for its first --gen-lr-early-steps steps, as a multiple of --gen-lr"
    )
    gen_lr_early_steps: int = option(
        "generator steps trained at --gen-lr-early-factor times --gen-lr before --gen-lr (0: none)"
    )
    critic_lr: float = option("critic Adam learning rate")
    beta_1: float = option("Adam beta_1 of both optimizers")
    beta_1_early: float = option("Adam beta_1 of both optimizers for the first --beta-1-early-steps steps")
    beta_1_early_steps: int = option("generator steps trained with --beta-1-early before --beta-1 (0: none)")
    beta_2: float = option("Adam beta_2 of both optimizers")
    lr_decay: str = option("learning-rate schedule of both optimizers", choices=("none", "linear"))
    lr_decay_to: float = option("the share of each learning rate that a linear decay ends at")
    critic_augment: str = option(
        "differentiable augmentation of the critic's real and generated inputs (DiffAugment)",
        choices=("none", "translation", "translation,cutout"),
    )
    critic_augment_p: float = option(
        "with --critic-augment: the probability that each augmentation applies to a digit (ADA's "
        "p; 1: every digit); with --critic-augment-target > 0, where p starts (a resumed run "
        "continues from its checkpoint's)"
    )
    critic_augment_target: float = option(
        "with --critic-augment: adapt p as ADA (Karras et al. 2020), up while the mean of "
        "sign(D(real) - D(generated)) over the batch's pairs exceeds this, down while it is under "
        "it; 0: p fixed"
    )
    critic_augment_speed: int = option(
        "with --critic-augment-target > 0: real digits shown in which p can move from 0 to 1"
    )
    critic_consistency: float = option(
        "weight of the critic's consistency under shifts of its real and generated inputs "
        "(bCR, Zhao et al. 2021): (D(x) - D(shifted x))^2; 0: none"
    )
    gen_mode_seeking: float = option(
        "weight of the generator's mode-seeking term (MSGAN, Mao et al. 2019): 1 / the ratio of "
        "two same-class digits' difference to their noise's, so a class's digits spread as their "
        "noise does; 0: none; the batch per replica must be even"
    )
    gen_mode_seeking_space: str = option(
        "with --gen-mode-seeking > 0, where its term measures two digits' difference: images "
        "(their pixels, as MSGAN) or critic (the critic's features before its score, over their "
        "mean absolute deviation in the batch)",
        choices=MODE_SEEKING_SPACES,
    )
    ema_decay: float = option(
        "decay of the generator's weight average, the copy scored and drawn from (0: the last weights)"
    )
    steps_per_call: int = option("generator steps per tf.function call; also the log interval")
    save_every: int = option(
        "checkpoint every N generator steps (and at the end; each score saves one too, for best/); "
        "0: only at the end and at each score"
    )
    eval_every: int = option("score samples every N steps (and at the end); 0: only at the end")
    eval_samples: int = option("generated digits scored for FID and accuracy")
    eval: bool = option("score samples with the classifier (--no-eval to train without one)")
    mixed_precision: str = option(
        "auto: bfloat16 on CPUs that compute it natively (AMX/AVX512-BF16, Arm BF16), else "
        "float32 (off); float16 for GPUs with tensor cores (far slower on CPUs)",
        choices=precision.MODES,
    )
    deterministic: bool = option(
        "TF op determinism: a resumed run then matches an uninterrupted one bit for bit (slower)"
    )

    def validate(self) -> None:
        if self.eval and self.eval_samples < limits.MIN_EVAL_SAMPLES:
            raise ConfigError(f"eval_samples must be >= {limits.MIN_EVAL_SAMPLES}, got {self.eval_samples}")
        # Each without an augmentation would be recorded but do nothing.
        unused = [
            ("critic_augment_target", "adapts", self.critic_augment_target > 0),
            ("critic_augment_p", "is", self.critic_augment_p < 1),
        ]
        for key, what, set_ in unused:
            if self.critic_augment == "none" and set_:
                raise ConfigError(
                    f"{key} {what} the probability of an augmentation: name one with "
                    "--critic-augment (translation or translation,cutout)"
                )


def run_kind(folder: str | Path) -> str | None:
    """Which command's run a checkpoint folder holds, by its record: 'GAN (./train.py)',
    'classifier (./classifier.py)', or None. The two never share a folder."""
    for cls, kind in ((GanConfig, "GAN (./train.py)"), (ClassifierConfig, "classifier (./classifier.py)")):
        if (Path(folder) / cls.SAVED_AS).is_file():
            return kind
    return None


# The commands that use a trained generator; here so that every config is importable from
# mnist_gan.configs.
from mnist_gan.configs.inference import EvaluateConfig, GenerateConfig  # noqa: E402

__all__ = [
    "CRITIC_EMBEDDING",
    "DEFAULT_DATA_DIR",
    "GEN_CONDITIONING",
    "GEN_NOISE_WEIGHTS",
    "GEN_OUTPUT",
    "STRATEGIES",
    "WEIGHT_INIT",
    "ClassifierConfig",
    "EvaluateConfig",
    "GanConfig",
    "GenerateConfig",
    "RunConfig",
    "run_kind",
]
