"""Command-line flags from a config class: one flag per key, defaults from the YAML files."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn

from mnist_gan import __version__
from mnist_gan.runtime.config import C, Config, ConfigError, defaults, field_types, from_dict, load_with_keys


def flag(key: str) -> str:
    """The command-line flag of config key ``key``."""
    return "--" + key.replace("_", "-")


def setting(key: str, value: Any) -> str:
    """The command-line words that set ``key`` to ``value`` (a bool as --key or --no-key)."""
    if isinstance(value, bool):
        return flag(key) if value else "--no-" + flag(key)[2:]
    return f"{flag(key)} {shlex.quote(str(value))}"


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown, except empty ones (their help says what '' means); epilogs kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in ("", None):
            return action.help
        return super()._get_help_string(action)


def _key_flag(f: dataclasses.Field, kind: type, default: Any) -> dict[str, Any]:
    """argparse keywords of the flag of one config key."""
    kwargs: dict[str, Any] = {"default": default, "help": f.metadata["help"], "dest": f.name}
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif f.metadata["choices"] is not None:
        choices = f.metadata["choices"]
        kwargs.update(type=kind, choices=choices)
        if any("," in str(c) for c in choices):  # {a,b,c} would read 'translation,cutout' as two
            kwargs["metavar"] = "{" + " | ".join(map(str, choices)) + "}"
    else:
        kwargs.update(type=kind, metavar=f.name.upper())
    return kwargs


class Parser(argparse.ArgumentParser):
    """argparse with the project's error line: one line starting ``error:``, exit status 2
    (argparse's own prints the whole usage first), a flag's near miss named, and no
    abbreviated flags: with dozens of long names a prefix picks the wrong one
    (``--interpolation`` would be read as ``--interpolation-frames``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}{self._near_miss(message)} (see {self.prog} --help)\n")

    def _near_miss(self, message: str) -> str:
        """'; did you mean --steps?' for the first unrecognised flag close to a shown one."""
        prefix = "unrecognized arguments: "
        if not message.startswith(prefix):
            return ""
        visible = [a for a in self._actions if a.help != argparse.SUPPRESS]
        shown = [s for a in visible for s in a.option_strings]
        valued = {s for a in visible if a.nargs != 0 for s in a.option_strings}
        words = message[len(prefix) :].split()
        for i, word in enumerate(words):
            if word.startswith("--"):
                name = word.split("=")[0]
                # Followed by a value, the one flag taking a value that it starts is what was
                # meant ('--interpolation 5': --interpolation-frames, not the switch
                # --interpolate, which is nearer by letters); otherwise the nearest.
                with_value = "=" in word or (i + 1 < len(words) and not words[i + 1].startswith("-"))
                longer = [s for s in shown if s in valued and s.startswith(name + "-")] if with_value else []
                close = (
                    longer if len(longer) == 1 else difflib.get_close_matches(name, shown, n=1, cutoff=0.75)
                )
                if close:
                    return f"; did you mean {close[0]}?"
        return ""


def _add_hidden_flags(parser: argparse.ArgumentParser, cls: type[Config]) -> None:
    """Old flag names: accepted, never shown."""
    hidden: dict[str, Any] = {"default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
    for flag, key, const in cls.HIDDEN_FLAGS:
        if const is None:
            parser.add_argument(flag, dest=key, type=field_types(cls)[key], **hidden)
        else:
            parser.add_argument(flag, dest=key, action="store_const", const=const, **hidden)


def build_parser(
    cls: type[Config],
    base: Config,
    description: str,
    groups: dict[str, tuple[str, ...]] | None = None,
    epilog: str | None = None,
    defaults: bool = True,
) -> argparse.ArgumentParser:
    """An argparse parser with one flag per config key, defaulting to ``base``'s values.

    ``groups`` (title -> keys) sorts the flags under headings in ``--help``; keys in no group
    stay under "options". Without ``defaults`` a flag not given is absent from the result.
    """
    parser = Parser(description=description, epilog=epilog, formatter_class=_HelpFormatter)
    # One heading per title (a group per key printed the title once per flag).
    headings = {title: parser.add_argument_group(title) for title in groups or {}}
    sections = {key: headings[title] for title, keys in (groups or {}).items() for key in keys}
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"YAML file overriding mnist_gan/configs/{cls.DEFAULTS_FILE}; flags override both",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (mnist-gan) {__version__}")
    kinds = field_types(cls)
    for f in dataclasses.fields(cls):
        kwargs = _key_flag(f, kinds[f.name], getattr(base, f.name) if defaults else argparse.SUPPRESS)
        sections.get(f.name, parser).add_argument(flag(f.name), **kwargs)
    _add_hidden_flags(parser, cls)
    return parser


def parse_args(
    cls: type[C],
    argv: list[str] | None,
    description: str,
    groups: dict[str, tuple[str, ...]] | None = None,
    epilog: str | None = None,
) -> tuple[C, frozenset[str]]:
    """Defaults, then ``--config FILE``, then flags. Returns the config and the keys the
    command line or the file set: a value given equal to its default is still given."""
    pre = Parser(add_help=False)
    pre.add_argument("--config", type=Path, default=None)
    known, _ = pre.parse_known_args(argv)
    base, in_file = load_with_keys(cls, known.config)
    parser = build_parser(cls, base, description, groups, epilog)
    args = vars(parser.parse_args(argv))
    _old_and_new_together(parser, cls, sys.argv[1:] if argv is None else argv)
    args.pop("config")
    bare = build_parser(cls, base, description, groups, epilog, defaults=False)
    flagged = set(vars(bare.parse_args(argv))) - {"config"}
    try:
        cfg = from_dict(cls, args, "command line")
    except ConfigError as e:
        raise ConfigError(_as_flags(str(e), flagged)) from e
    _no_empty_paths(cfg, flagged, in_file, known.config)
    return cfg, frozenset(flagged) | in_file


def _no_empty_paths(cfg: Config, flagged: set[str], in_file: frozenset[str], config: Path | None) -> None:
    """Refuse a path given empty, which would otherwise mean the current folder or the default.

    On the command line always (an unset shell variable, most likely); in a --config file
    only where the defaults file's value is not empty itself (a copy of it must load)."""
    for key in type(cfg).PATH_KEYS:
        if str(getattr(cfg, key)).strip():
            continue
        if key in flagged:
            raise ConfigError(f"{flag(key)} is empty: name a path, or leave the flag out for its default")
        if key in in_file and str(getattr(defaults(type(cfg)), key)).strip():
            raise ConfigError(f"{config}: {key} is empty: name a path, or leave the key out for its default")


def _old_and_new_together(parser: argparse.ArgumentParser, cls: type[Config], argv: list[str]) -> None:
    """Refuse an old flag name beside its new one (the last given would win unsaid), as a
    --config file with both key names is refused."""
    given = {word.split("=")[0] for word in argv if word.startswith("--")}
    for old, key, _ in cls.HIDDEN_FLAGS:
        if old not in given:
            continue
        shown = (a for a in parser._actions if a.dest == key and a.help != argparse.SUPPRESS)
        new = [s for action in shown for s in action.option_strings if s in given]
        if new:
            raise ConfigError(f"give {new[0]} or its old name {old}, not both")


def _as_flags(message: str, keys: set[str]) -> str:
    """``message`` with each key set on the command line named as the flag the user typed
    ('count must be >= 1' -> '--count must be >= 1'); a --config file's keys were checked,
    under the file's name, when it was read."""
    for key in sorted(keys, key=len, reverse=True):
        message = re.sub(rf"'?(?<![\w-]){re.escape(key)}(?![\w-])'?", flag(key), message)
    return message
