"""What ``generate.py`` writes into --output-dir (or --export), and what it may replace there.

Runs on MNIST-style data (classes named '0' to '9') keep the file names of the digit days,
``digit3_0000.png`` and ``interpolation_3.png``; other runs name files by a file-safe form
of the class name, ``class-t-shirt-top_0000.png`` and ``interpolation_t-shirt-top.png``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from mnist_gan import configs, generation, pictures
from mnist_gan.runtime import config, files
from mnist_gan.runtime.record import DIGITS

_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
# The files generate.py writes into --output-dir: only these are ever replaced or removed.
OWN_FILES = re.compile(
    rf"digit\d_\d{{4,}}\.png|class-{_SLUG}_\d{{4,}}\.png|grid\.png|interpolation_{_SLUG}\.(?:png|gif)"
)
GIF_SCALE = 4
# What write_outputs returns of the pictures it writes, by kind.
PICTURES = ("images", "grid", "interpolation")


def slugs(class_names: list[str]) -> list[str]:
    """A file-safe name per class: lowercase ASCII letters and digits, other runs as '-'.

    Names that come out alike get their class index appended ('a b', 'a-b' -> 'a-b-0', 'a-b-1').
    """
    base = [re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "class" for name in class_names]
    seen = Counter(base)
    out = [f"{s}-{i}" if seen[s] > 1 else s for i, s in enumerate(base)]
    if len(set(out)) < len(out):  # a name that reads like another's numbered one: number all
        out = [f"{s}-{i}" for i, s in enumerate(base)]
    return out


class FileNames:
    """The names of the files drawn for a run's classes."""

    def __init__(self, class_names: list[str]) -> None:
        self.digits = class_names == DIGITS
        self.stems = DIGITS if self.digits else slugs(class_names)

    def image(self, label: int, index: int) -> str:
        prefix = "digit" if self.digits else "class-"
        return f"{prefix}{self.stems[label]}_{index:04d}.png"

    def walk(self, label: int, suffix: str) -> str:
        return f"interpolation_{self.stems[label]}.{suffix}"


def check_output_dir(path: str | Path, overwrite: bool = False, flag: str = "--output-dir") -> list[Path]:
    """Refuse an output path that is a file, or a folder holding other files than an earlier
    run's pictures, or those pictures without ``overwrite``. Returns the earlier pictures,
    to be removed once the new ones are written, so that the folder holds one run only. Sub-folders are left
    alone (``outputs/mine`` for another set beside the demo's pictures in ``outputs``), but
    not one named like a picture it writes (``grid.png/``): that is in the way."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise config.ConfigError(f"{p} is a file, not a folder; pass another {flag}")
    if not p.is_dir():
        return []
    entries = [
        e
        for e in p.iterdir()
        if not e.name.startswith(".") and (OWN_FILES.fullmatch(e.name) or not e.is_dir())
    ]
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
    Returns the written paths by kind (:data:`PICTURES`, 'export') and, under 'checkpoint',
    the checkpoint drawn from (read, not written).
    """
    out = Path(cfg.output_dir)
    earlier: list[Path] = []
    if cfg.export:
        check_export_dir(cfg.export, cfg.overwrite)
        files.check_writable_target(cfg.export, "--export")
    else:
        earlier = check_output_dir(out, cfg.overwrite)
        files.check_writable_target(out, "--output-dir")
    loaded = generation.load_generator(cfg.checkpoint_dir, cfg.step)
    # Only the run knows its classes: parsed once it is loaded, still before any writing.
    classes = generation.parse_classes(cfg.classes, loaded.class_names)
    sampler = generation.ClassSampler(loaded.generator, loaded.cfg.noise_dim, loaded.class_names)
    written: dict[str, list[Path]] = {
        "checkpoint": [Path(loaded.path)],
        **{kind: [] for kind in (*PICTURES, "export")},
    }
    if cfg.export:
        written["export"].append(sampler.export(cfg.export))
        return written
    names = FileNames(loaded.class_names)
    drawn = sampler.draw(classes, cfg.count, cfg.seed)
    written["images"] = _write_images(out, names, classes, drawn)
    written["grid"] = [_write_grid(out, [loaded.class_names[c] for c in classes], drawn)]
    if cfg.interpolate:
        for label in dict.fromkeys(classes):
            frames = sampler.walk(label, cfg.interpolation_frames, cfg.seed)
            written["interpolation"] += _write_walk(out, names, label, frames)
    # The earlier run's pictures go only now: interrupted, the folder still held them (with
    # some new ones), not half of the new set alone.
    new = {p.name for kind in PICTURES for p in written[kind]}
    for path in earlier:
        if path.name not in new:
            path.unlink(missing_ok=True)
    return written


def _write_images(out: Path, names: FileNames, classes: list[int], drawn: np.ndarray) -> list[Path]:
    """One PNG per drawn image (``drawn``: (len(classes), count, 28, 28))."""
    paths = []
    for row, label in enumerate(classes):
        for i, image in enumerate(drawn[row]):
            # A class asked for twice gets its second row numbered on, never overwritten.
            index = classes[:row].count(label) * len(drawn[row]) + i
            paths.append(pictures.save_png(out / names.image(label, index), image))
    return paths


def _write_grid(out: Path, labels: list[str], drawn: np.ndarray) -> Path:
    """grid.png: one row per asked class, named on the left, one column per sample."""
    rows, count = drawn.shape[:2]
    grid = pictures.grid(drawn.reshape(-1, 28, 28), rows, count)
    return pictures.save_png(out / "grid.png", pictures.label_rows(grid, labels, 28))


def _write_walk(out: Path, names: FileNames, label: int, frames: np.ndarray) -> list[Path]:
    """A latent walk as a PNG strip and a GIF."""
    strip = pictures.save_png(out / names.walk(label, "png"), pictures.grid(frames, 1, len(frames)))
    # 28x28 is a thumbnail on screen: the GIF is enlarged 4x, pixels kept sharp.
    gif = pictures.save_gif(out / names.walk(label, "gif"), pictures.upscale(frames, GIF_SCALE))
    return [strip, gif]
