"""Configs: frozen dataclasses filled from YAML defaults, a user YAML, then flags.

The YAML files in ``mnist_gan/configs/`` (installed with the package) are the single source
of defaults; the dataclasses (:mod:`mnist_gan.configs`) only say which keys exist, their
types, ranges and help. A config checks its values once, when it is built; unknown keys and
wrong types are refused with the file and key named. Only ``yaml.safe_load`` is used: a
config can never run code.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from mnist_gan.runtime import limits
from mnist_gan.runtime.errors import ConfigError
from mnist_gan.runtime.files import atomic_write_text

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def option(help: str, choices: tuple[Any, ...] | None = None) -> Any:
    """A dataclass field with help text (and optional choices) and no default of its own."""
    return dataclasses.field(metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class: subclasses list their fields with :func:`option`."""

    # Keys that define the saved model's shape: a checkpoint made with other values cannot
    # be restored into this config's model.
    ARCHITECTURE_KEYS: ClassVar[tuple[str, ...]] = ()
    # Keys added later -> the value that describes a run saved before them (what it trained
    # with), where that is not today's default. Compared on resume as if the run had saved it.
    BEFORE: ClassVar[dict[str, Any]] = {}
    # key -> (other key, its value that leaves key without effect): a difference in key alone
    # does not change what such a run computes, so resuming does not name it.
    INERT_WHEN: ClassVar[dict[str, tuple[str, Any]]] = {}
    DEFAULTS_FILE: ClassVar[str] = ""
    # The file this config is saved as beside a run's checkpoints ('' : never saved).
    SAVED_AS: ClassVar[str] = ""
    # Old flag names still accepted but not shown: (flag, key, constant stored or None for a value).
    HIDDEN_FLAGS: ClassVar[tuple[tuple[str, str, Any], ...]] = ()
    # String keys that a YAML file may also give as a list (joined with commas).
    LIST_KEYS: ClassVar[tuple[str, ...]] = ()
    # Old key -> its new name: a user's YAML file with the old key still loads.
    RENAMED_KEYS: ClassVar[dict[str, str]] = {}
    # key -> (lowest, highest, lowest allowed itself?); see :mod:`mnist_gan.runtime.limits`.
    RANGES: ClassVar[dict[str, limits.Range]] = {}
    # Keys that name a file or folder: given empty ('--save-dir ""', an unset shell
    # variable) they are refused, not read as the current folder or as left out.
    PATH_KEYS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        limits.check(self, type(self).RANGES)
        self.validate()

    def validate(self) -> None:
        """Rules between values (raise :class:`ConfigError`); ranges are in ``RANGES``."""

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
    mappings = list(_mappings(text))  # the node tree composed once, for both checks
    twice = _duplicate_key(mappings)
    if twice is not None:
        key, first, again = twice
        raise ConfigError(f"{path}: key {key!r} is set twice (lines {first} and {again}); keep one of them")
    octal = _octal_number(mappings)
    if octal is not None:
        key, value, line = octal
        raise ConfigError(
            f"{path}: line {line}: {key}: {value} has a leading zero, which YAML reads as an octal "
            f"number; write it without the zero (or quote it)"
        )
    return data


def _mappings(text: str) -> Iterator[yaml.MappingNode]:
    """Every mapping of ``text``'s node tree, each once. Composing builds no objects, so this
    stays as safe as ``safe_load`` itself."""
    stack = [yaml.compose(text, Loader=yaml.SafeLoader)]
    visited: set[int] = set()  # an alias is the node it names: each node once, or aliases nest exponentially
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            yield node
            stack.extend(value for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _duplicate_key(mappings: list[yaml.MappingNode]) -> tuple[str, int, int] | None:
    """A key some mapping sets twice (compared as written: config keys are plain names),
    with both lines. ``safe_load`` keeps the last value silently, so a config would run with
    a setting its reader did not see."""
    for node in mappings:
        seen: dict[str, int] = {}
        for key, _ in node.value:
            # A merge key '<<' too: two in one mapping leave one of them unused.
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in seen:
                    return key.value, seen[key.value], line
                seen[key.value] = line
    return None


# An unquoted integer with a leading zero, which YAML 1.1 (PyYAML) reads as octal: 010 is 8.
_YAML11_OCTAL = re.compile(r"[-+]?0[0-9_]+")


def _octal_number(mappings: list[yaml.MappingNode]) -> tuple[str, str, int] | None:
    """A key set to an unquoted number with a leading zero (its key, value and line): YAML 1.1
    reads ``steps: 010`` as 8 where ``--steps 010`` is 10, so it is refused, not guessed."""
    for node in mappings:
        for key, value in node.value:
            plain = isinstance(value, yaml.ScalarNode) and value.style is None
            if plain and value.tag.endswith(":int") and _YAML11_OCTAL.fullmatch(value.value):
                return str(key.value), value.value, value.start_mark.line + 1
    return None


def _yaml_problem(e: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def field_types(cls: type[Config]) -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


# A number in exponent notation that YAML 1.1 (PyYAML) leaves a string: 1e-3 (no dot), 1.5e4 (no sign).
_YAML11_FLOAT = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+")


def typed_value(cls: type[Config], key: str, value: Any, source: str) -> Any:
    """``value`` of ``key`` as ``cls`` types it (a YAML int for a float, a list for a list
    key, ...), or a :class:`ConfigError` naming ``source`` and the key."""
    kind = field_types(cls)[key]
    if kind is str and key in cls.LIST_KEYS and isinstance(value, list):
        nested = next((v for v in value if isinstance(v, (list, dict))), None)
        if nested is not None:
            raise ConfigError(f"{source}: '{key}' item {nested!r} is not a name or a number")
        held = next((v for v in value if "," in str(v)), None)
        if held is not None:  # joined below, its comma would split it into two items
            raise ConfigError(
                f"{source}: '{key}' item {str(held)!r} holds a comma, which separates the items; "
                "give that one by its index"
            )
        value = ",".join(str(v) for v in value)  # classes: [3, 5] in YAML means "3,5"
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        value, ok = str(value), True  # e.g. "step: 2000" in a YAML file
    if kind is float and isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
        value, ok = float(value), True  # YAML 1.1 reads 1e-3 (no dot) as a string
    choices = next(f for f in dataclasses.fields(cls) if f.name == key).metadata["choices"]
    if kind is str and isinstance(value, bool) and choices and ("on" if value else "off") in choices:
        value, ok = "on" if value else "off", True  # YAML 1.1 reads an unquoted off (or no) as false
    if not ok:
        quote = " (YAML reads on, off, yes and no unquoted as true or false: quote it)"
        raise ConfigError(
            f"{source}: '{key}' must be {kind.__name__}, got {value!r} ({type(value).__name__})"
            + (quote if kind is str and isinstance(value, bool) else "")
        )
    if choices is not None and value not in choices:
        raise ConfigError(f"{source}: '{key}' must be one of {list(choices)}, got {value!r}")
    return value


def check_keys(cls: type[Config], data: dict[str, Any], source: str) -> None:
    """Refuse keys ``cls`` does not have, suggesting the closest real one."""
    known = list(field_types(cls))
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"{source}: unknown config key '{key}'{hint}")


def from_dict(cls: type[C], data: dict[str, Any], source: str) -> C:
    """Build ``cls`` from a complete mapping, validating keys and types."""
    check_keys(cls, data, source)
    missing = [k for k in field_types(cls) if k not in data]
    if missing:
        raise ConfigError(f"{source}: missing config keys: {', '.join(missing)}")
    values = {k: typed_value(cls, k, v, source) for k, v in data.items()}
    try:
        return cls(**values)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from e


def as_trained(cls: type[Config], saved: dict[str, Any]) -> dict[str, Any]:
    """A run's saved settings, with the keys it predates at the values it trained with."""
    return {**cls.BEFORE, **saved}


def without_effect(cls: type[Config], key: str, *settings: dict[str, Any]) -> bool:
    """Whether ``key`` has no effect in every one of ``settings`` (see ``INERT_WHEN``)."""
    other, value = cls.INERT_WHEN.get(key, ("", None))
    return bool(other) and all(s.get(other) == value for s in settings)


def from_saved(cls: type[C], saved: dict[str, Any], source: str) -> C:
    """A config saved by a run: keys added to the project since then take the value that
    describes the older run (``BEFORE``), else their defaults."""
    check_keys(cls, saved, source)
    return from_dict(cls, {**defaults(cls).to_dict(), **as_trained(cls, saved)}, source)


def defaults(cls: type[C]) -> C:
    """The defaults from ``mnist_gan/configs/<DEFAULTS_FILE>``."""
    path = CONFIG_DIR / cls.DEFAULTS_FILE
    return from_dict(cls, load_yaml(path), str(path))


def rename_keys(cls: type[Config], data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` with the old key names of ``cls.RENAMED_KEYS`` replaced by the new ones."""
    out = dict(data)
    for old, new in cls.RENAMED_KEYS.items():
        if old in out:
            if new in out:
                raise ConfigError(f"{source}: give '{new}' or its old name '{old}', not both")
            out[new] = out.pop(old)
    return out


def load_with_keys(cls: type[C], path: Path | None = None) -> tuple[C, frozenset[str]]:
    """Defaults overlaid with the (possibly partial) YAML file at ``path``, and the keys the
    file set (by today's names)."""
    base = defaults(cls).to_dict()
    user: dict[str, Any] = {}
    if path is not None:
        user = load_yaml(path)
        user.pop("run", None)  # the record of a saved run's config: not settings
        user = rename_keys(cls, user, str(path))
        check_keys(cls, user, str(path))
        base.update(user)
    return from_dict(cls, base, str(path or CONFIG_DIR / cls.DEFAULTS_FILE)), frozenset(user)


def load(cls: type[C], path: Path | None = None) -> C:
    """Defaults overlaid with the (possibly partial) YAML file at ``path``."""
    return load_with_keys(cls, path)[0]


def to_yaml(cfg: Config) -> str:
    """The config as YAML, keys in declaration order."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def save(cfg: Config, path: Path) -> None:
    """Write the config as YAML atomically."""
    atomic_write_text(Path(path), to_yaml(cfg))
