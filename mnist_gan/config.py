"""Run configuration: dataclasses filled from YAML defaults, a user YAML, then CLI flags.

The YAML files in ``mnist_gan/configs/`` (installed with the package) are the single source
of defaults; the dataclasses only say which keys exist, their types and their help. Unknown
keys and wrong types are refused with the file and key named. Only ``yaml.safe_load`` is used:
a config can never run code.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from mnist_gan import __version__, limits, precision
from mnist_gan.errors import ConfigError
from mnist_gan.files import atomic_write_text

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
_SCALARS = (bool, int, float, str)


def option(help: str, choices: tuple[Any, ...] | None = None) -> Any:
    """A dataclass field with help text (and optional choices) and no default of its own."""
    return dataclasses.field(metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class: subclasses list their fields with :func:`option`."""

    # Keys that define the saved model's shape: a checkpoint made with other values cannot
    # be restored into this config's model.
    ARCHITECTURE_KEYS: ClassVar[tuple[str, ...]] = ()
    DEFAULTS_FILE: ClassVar[str] = ""
    # Old flag names still accepted but not shown: (flag, key, constant stored or None for a value).
    HIDDEN_FLAGS: ClassVar[tuple[tuple[str, str, Any], ...]] = ()
    # String keys that a YAML file may also give as a list (joined with commas).
    LIST_KEYS: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)


C = TypeVar("C", bound=Config)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping with ``safe_load``; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror})") from e
    except UnicodeDecodeError as e:
        bad = f"byte 0x{e.object[e.start]:02x} at offset {e.start}"
        raise ConfigError(f"{path}: not UTF-8 text ({bad}); save it as UTF-8") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        problem = _yaml_problem(e)
        raise ConfigError(f"{path}: not valid YAML (or uses a tag safe_load refuses): {problem}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of key: value, got {type(data).__name__}")
    return data


def _yaml_problem(e: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def _field_types(cls: type[Config]) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _check_value(cls: type[Config], key: str, value: Any, source: str) -> Any:
    kind = _field_types(cls)[key]
    if kind is str and key in cls.LIST_KEYS and isinstance(value, list):
        value = ",".join(str(v) for v in value)  # digits: [3, 5] in YAML means "3,5"
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        value, ok = str(value), True  # e.g. "step: 2000" in a YAML file
    if not ok:
        raise ConfigError(
            f"{source}: '{key}' must be {kind.__name__}, got {value!r} ({type(value).__name__})"
        )
    choices = next(f for f in dataclasses.fields(cls) if f.name == key).metadata["choices"]
    if choices is not None and value not in choices:
        raise ConfigError(f"{source}: '{key}' must be one of {list(choices)}, got {value!r}")
    return value


def check_keys(cls: type[Config], data: dict[str, Any], source: str) -> None:
    """Refuse keys ``cls`` does not have, suggesting the closest real one."""
    known = list(_field_types(cls))
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"{source}: unknown config key '{key}'{hint}")


def from_dict(cls: type[C], data: dict[str, Any], source: str) -> C:
    """Build ``cls`` from a complete mapping, validating keys and types."""
    check_keys(cls, data, source)
    missing = [k for k in _field_types(cls) if k not in data]
    if missing:
        raise ConfigError(f"{source}: missing config keys: {', '.join(missing)}")
    cfg = cls(**{k: _check_value(cls, k, v, source) for k, v in data.items()})
    limits.check(cfg, source)
    return cfg


def from_saved(cls: type[C], saved: dict[str, Any], source: str) -> C:
    """A config saved by a run: keys added to the project since then take their defaults."""
    check_keys(cls, saved, source)
    return from_dict(cls, {**defaults(cls).to_dict(), **saved}, source)


def defaults(cls: type[C]) -> C:
    """The defaults from ``mnist_gan/configs/<DEFAULTS_FILE>``."""
    path = CONFIG_DIR / cls.DEFAULTS_FILE
    return from_dict(cls, load_yaml(path), str(path))


def load(cls: type[C], path: Path | None = None) -> C:
    """Defaults overlaid with the (possibly partial) YAML file at ``path``."""
    base = defaults(cls).to_dict()
    if path is not None:
        user = load_yaml(path)
        user.pop("run", None)  # the record of a saved run's config: not settings
        check_keys(cls, user, str(path))
        base.update(user)
    return from_dict(cls, base, str(path or CONFIG_DIR / cls.DEFAULTS_FILE))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown, except empty ones (their help says what '' means); epilogs kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in ("", None):
            return action.help
        return super()._get_help_string(action)


def build_parser(
    cls: type[Config],
    base: Config,
    description: str,
    groups: dict[str, tuple[str, ...]] | None = None,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """An argparse parser with one flag per config key, defaulting to ``base``'s values.

    ``groups`` (title -> keys) sorts the flags under headings in ``--help``; keys in no group
    stay under "options".
    """
    parser = argparse.ArgumentParser(description=description, epilog=epilog, formatter_class=_HelpFormatter)
    sections = {
        key: parser.add_argument_group(title) for title, keys in (groups or {}).items() for key in keys
    }
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"YAML file overriding mnist_gan/configs/{cls.DEFAULTS_FILE}; flags override both",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (mnist-gan) {__version__}")
    for f in dataclasses.fields(cls):
        kind = _field_types(cls)[f.name]
        default = getattr(base, f.name)
        kwargs: dict[str, Any] = {"default": default, "help": f.metadata["help"], "dest": f.name}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind
            kwargs["metavar"] = f.name.upper()
            if f.metadata["choices"] is not None:
                kwargs["choices"] = f.metadata["choices"]
                del kwargs["metavar"]
        sections.get(f.name, parser).add_argument(_flag(f.name), **kwargs)
    for flag, key, const in cls.HIDDEN_FLAGS:
        if const is None:
            parser.add_argument(
                flag, dest=key, type=_field_types(cls)[key], default=argparse.SUPPRESS, help=argparse.SUPPRESS
            )
        else:
            parser.add_argument(
                flag,
                dest=key,
                action="store_const",
                const=const,
                default=argparse.SUPPRESS,
                help=argparse.SUPPRESS,
            )
    return parser


def parse_args(
    cls: type[C],
    argv: list[str] | None,
    description: str,
    groups: dict[str, tuple[str, ...]] | None = None,
    epilog: str | None = None,
) -> tuple[C, argparse.ArgumentParser]:
    """Defaults, then ``--config FILE``, then flags. Returns the config and the parser."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path, default=None)
    known, _ = pre.parse_known_args(argv)
    base = load(cls, known.config)
    parser = build_parser(cls, base, description, groups, epilog)
    args = vars(parser.parse_args(argv))
    args.pop("config")
    return from_dict(cls, args, "command line"), parser


def to_yaml(cfg: Config) -> str:
    """The config as YAML, keys in declaration order."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def save(cfg: Config, path: Path) -> None:
    """Write the config as YAML atomically."""
    atomic_write_text(Path(path), to_yaml(cfg))


def architecture_differences(cfg: Config, saved: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Architecture keys whose value in ``saved`` differs from ``cfg``: key -> (saved, now)."""
    return {
        k: (saved.get(k), getattr(cfg, k)) for k in cfg.ARCHITECTURE_KEYS if saved.get(k) != getattr(cfg, k)
    }


CONTINUE_HELP = "resume the run in --save-dir although training settings differ (recorded in its history)"
START_OVER_HELP = (
    "if --save-dir holds a different run: move its checkpoints aside into replaced-<time>/ and start afresh"
)
STEP_HELP = "checkpoint to load: newest, best (lowest FID while training: its best/ folder) or a step number"
STRATEGIES = ("auto", "mirrored", "default", "multiworker")
# Where ./download_mnist.sh puts MNIST: the data of a new run when no --data-dir is given.
DEFAULT_DATA_DIR = "datasets/MNIST"


@dataclasses.dataclass(frozen=True)
class ClassifierConfig(Config):
    """Settings of ``classifier.py``."""

    ARCHITECTURE_KEYS: ClassVar[tuple[str, ...]] = ("width", "feature_dim")
    DEFAULTS_FILE: ClassVar[str] = "classifier.yaml"

    data_dir: str = option("folder with the MNIST IDX files (gzipped or not)")
    save_dir: str = option("checkpoint folder")
    log_dir: str = option("TensorBoard folder; each run writes a timestamped sub-folder")
    epochs: int = option("passes over the training set")
    batch_size: int = option("global batch size, split across replicas")
    learning_rate: float = option("Adam learning rate (cosine-decayed to 0)")
    dropout: float = option("dropout before the output layer")
    width: int = option("filters of the first conv block (doubled in the second)")
    feature_dim: int = option("size of the feature layer used for FID")
    augment: bool = option("random shifts of up to 2 pixels while training")
    strategy: str = option(
        "auto: MirroredStrategy over all GPUs (or the CPU replicas), else the default; "
        "multiworker: MultiWorkerMirroredStrategy over the machines in TF_CONFIG",
        choices=STRATEGIES,
    )
    cpu_replicas: int = option("split the CPU into N logical devices (N >= 2 mirrors over them)")
    collective_timeout: float = option("multiworker: seconds a collective waits for a lost worker")
    seed: int = option("random seed")
    keep_checkpoints: int = option("checkpoints kept in --save-dir (older ones are deleted)")
    continue_with_changes: bool = option(CONTINUE_HELP)
    start_over: bool = option(START_OVER_HELP)


@dataclasses.dataclass(frozen=True)
class GanConfig(Config):
    """Settings of ``train.py``."""

    ARCHITECTURE_KEYS: ClassVar[tuple[str, ...]] = ("noise_dim", "gen_width", "critic_width")
    DEFAULTS_FILE: ClassVar[str] = "gan.yaml"

    data_dir: str = option(
        "folder with the MNIST IDX files (gzipped or not); default: the one the run in --save-dir "
        f"was trained on, for a new run {DEFAULT_DATA_DIR}"
    )
    save_dir: str = option("checkpoint folder; a checkpoint there is resumed")
    log_dir: str = option("TensorBoard folder; each run writes a timestamped sub-folder")
    classifier_dir: str = option("trained classifier (./classifier.py --save-dir) for scoring")
    noise_dim: int = option("size of the generator's noise vector")
    gen_width: int = option("generator filters before the last upsampling (doubled before it)")
    critic_width: int = option("critic filters in its first conv (doubled in the second)")
    batch_size: int = option("global batch size, split across replicas")
    steps: int = option("generator steps to train to (counting steps of a resumed run)")
    epochs: float = option("if > 0: train this many passes over the data instead of --steps")
    crit_steps: int = option("critic updates per generator update")
    gp_weight: float = option("gradient penalty weight (lambda)")
    gen_lr: float = option("generator Adam learning rate")
    critic_lr: float = option("critic Adam learning rate")
    beta_1: float = option("Adam beta_1 of both optimizers")
    beta_2: float = option("Adam beta_2 of both optimizers")
    lr_decay: str = option("learning-rate schedule of both optimizers", choices=("none", "linear"))
    critic_augment: str = option(
        "differentiable augmentation of the critic's real and generated inputs (DiffAugment)",
        choices=("none", "translation", "translation,cutout"),
    )
    ema_decay: float = option(
        "decay of the generator's weight average, the copy scored and drawn from (0: the last weights)"
    )
    steps_per_call: int = option("generator steps per tf.function call; also the log interval")
    save_every: int = option("checkpoint every N generator steps (and at the end)")
    eval_every: int = option("score samples every N steps (and at the end); 0: only at the end")
    eval_samples: int = option("generated digits scored for FID and accuracy")
    eval: bool = option("score samples with the classifier (--no-eval to train without one)")
    mixed_precision: str = option(
        "auto: bfloat16 on CPUs that compute it natively (AMX/AVX512-BF16, Arm BF16), else "
        "float32 (off); float16 for GPUs with tensor cores (far slower on CPUs)",
        choices=precision.MODES,
    )
    strategy: str = option(
        "auto: MirroredStrategy over all GPUs (or the CPU replicas), else the default; "
        "multiworker: MultiWorkerMirroredStrategy over the machines in TF_CONFIG",
        choices=STRATEGIES,
    )
    cpu_replicas: int = option("split the CPU into N logical devices (N >= 2 mirrors over them)")
    collective_timeout: float = option("multiworker: seconds a collective waits for a lost worker")
    seed: int = option("random seed (weights, noise, data order)")
    deterministic: bool = option(
        "TF op determinism: a resumed run then matches an uninterrupted one bit for bit (slower)"
    )
    keep_checkpoints: int = option(
        "checkpoints kept in --save-dir (older ones are deleted); the best by FID is kept apart in best/"
    )
    continue_with_changes: bool = option(CONTINUE_HELP)
    start_over: bool = option(START_OVER_HELP)


@dataclasses.dataclass(frozen=True)
class GenerateConfig(Config):
    """Settings of ``generate.py``."""

    DEFAULTS_FILE: ClassVar[str] = "generate.yaml"
    LIST_KEYS: ClassVar[tuple[str, ...]] = ("digits",)

    checkpoint_dir: str = option("GAN checkpoint folder (./train.py --save-dir)")
    step: str = option(STEP_HELP)
    output_dir: str = option("folder for the PNGs, grid.png and the interpolations")
    digits: str = option("digits to draw: a range like 0-9, or a list like 3,5,7 (in YAML also [3, 5, 7])")
    count: int = option("images per digit")
    seed: int = option("random seed: the same seed gives the same images, bit for bit")
    interpolate: bool = option("also write a latent-space walk per digit (PNG strip and GIF)")
    interpolation_frames: int = option("frames of each latent walk")
    export: str = option("if set: write only a TF SavedModel of the generator into this folder (no pictures)")
    overwrite: bool = option(
        "replace the pictures of an earlier run in --output-dir (or the SavedModel in --export); "
        "other files are never touched"
    )


@dataclasses.dataclass(frozen=True)
class EvaluateConfig(Config):
    """Settings of ``evaluate.py``."""

    DEFAULTS_FILE: ClassVar[str] = "evaluate.yaml"
    HIDDEN_FLAGS: ClassVar[tuple[tuple[str, str, Any], ...]] = (
        ("--num-samples", "eval_samples", None),
        ("--skip-cas", "cas", False),
        ("--no-skip-cas", "cas", True),
    )

    checkpoint_dir: str = option("GAN checkpoint folder (./train.py --save-dir)")
    step: str = option(STEP_HELP)
    classifier_dir: str = option(
        "trained classifier (./classifier.py --save-dir); default: the one the GAN was trained with"
    )
    data_dir: str = option(
        "folder with the MNIST IDX files: real digits to compare with; default: the GAN's training data"
    )
    eval_samples: int = option(
        "generated digits to score (and real train digits for references); 0: as many as the "
        "test split holds, at most 10,000"
    )
    seed: int = option("random seed of the generated digits and of CAS training")
    cas: bool = option("also score CAS (it trains two classifiers: the slow part)")
    cas_epochs: int = option("epochs of each CAS classifier")
    output: str = option(
        "JSON file for the metrics; default: CHECKPOINT_DIR/eval/metrics-<step>.json; '-': write none"
    )
