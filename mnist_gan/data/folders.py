"""Reading labelled image folders (one folder per class) into the same arrays as the IDX reader.

Two layouts are accepted, decided by what is in the folder:

* ``ROOT/<class>/*.png`` (or .jpg, .jpeg, .bmp, .gif; any case): the images are split into
  train and test here, per class (stratified), ``test_fraction`` of each class to test, by a
  permutation from ``np.random.default_rng(seed)``.
* ``ROOT/train/<class>/…`` and ``ROOT/test/<class>/…``: the user's own split, used as is.

Classes are numbered in ``sorted()`` order of their folder names, as Keras
``image_dataset_from_directory`` and torchvision ``ImageFolder`` number them. Class folders are
read recursively (as both of those do); names starting with '.' are skipped; other files are
skipped and reported in the notes.

Every image becomes 28x28 8-bit grayscale ('L'):

* colour is reduced to luma by Pillow (ITU-R 601-2: L = 0.299 R + 0.587 G + 0.114 B);
* 16-bit grayscale is scaled to 8 bits (Pillow's own conversion would clip it at 255), its
  transparency (rare) ignored; 32-bit ('I') and float ('F') pixels are clipped to 0-255;
* transparency is flattened onto black, the MNIST background (MNIST digits are white on black):
  a transparent pixel becomes 0, a half-transparent one half its brightness;
* other sizes are resized with Pillow's LANCZOS filter (antialiased when shrinking), stretched
  to 28x28 without keeping the aspect ratio (as Keras does by default);
* an animated GIF gives its first frame.

Files are read in sorted order and each split is shuffled once with the seed (so batches are
not runs of one class): the same folder, fraction and seed give the same arrays bit for bit.
Standard library, NumPy and Pillow only: no TensorFlow.
"""

from __future__ import annotations

import math
import os
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from mnist_gan.data.idx import Split
from mnist_gan.runtime.errors import DataError

__all__ = ["IMAGE_EXTENSIONS", "MAX_CLASSES", "FolderData", "is_image_folder", "read_image_folder"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"})
# Labels are stored as uint8 (as in the IDX files), so 0-255.
MAX_CLASSES = 256
SIZE = 28
PROGRESS_ABOVE = 2000  # a progress bar only when reading takes more than a moment
LIGHT_BORDER = 191  # mean border level above which a background counts as light (paper)

EXPECTED = (
    "expected one folder per class holding images (ROOT/<class>/*.png, .jpg, .jpeg, .bmp or .gif), "
    "or train/ and test/ folders holding those"
)
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"} | {"I;16", "I;16B", "I;16L", "I;16N"})
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
# What Pillow's decoders raise for a damaged or foreign file.
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)


@dataclass(frozen=True)
class FolderData:
    """A labelled image folder read into train and test splits."""

    train: Split  # images uint8 (N, 28, 28), labels uint8 (N,)
    test: Split
    class_names: list[str]
    notes: list[str]  # what was converted/ignored/how split, for the run to print
    split: str  # "folders" (user's train/test) or "seeded" (test_fraction)


@dataclass
class _Tally:
    """What the conversion had to do, for the notes."""

    colour: int = 0
    deep: int = 0
    alpha: int = 0
    animated: int = 0
    resized: int = 0
    resized_example: str = ""
    ignored: list[Path] = field(default_factory=list)  # files that are not images
    loose: list[Path] = field(default_factory=list)  # images outside any class folder


def _visible(folder: Path) -> list[os.DirEntry[str]]:
    """Entries of ``folder`` not hidden (no leading '.'), sorted by name."""
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as e:
        raise DataError(
            f"{folder}: cannot list this folder ({e.strerror or e}); check its permissions"
        ) from e


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _subfolders(folder: Path) -> list[str]:
    return [e.name for e in _visible(folder) if e.is_dir()]


def is_image_folder(root: Path) -> bool:
    """Cheap check, no image opened: does ``root`` look like either layout?

    True for a folder with train/ and test/ subfolders, or with a subfolder directly holding a
    file with an image extension.
    """
    root = Path(root)
    if not root.is_dir():
        return False
    try:
        subfolders = _subfolders(root)
        if {"train", "test"} <= set(subfolders):
            return True
        for name in subfolders:
            with os.scandir(root / name) as entries:
                if any(e.is_file() and _is_image_name(e.name) for e in entries):
                    return True
    except (OSError, DataError):
        return False
    return False


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _raise_unlistable(error: OSError) -> None:
    raise DataError(f"{error.filename}: cannot list this folder ({error.strerror}); check its permissions")


def _images_under(folder: Path, tally: _Tally) -> list[Path]:
    """Image files anywhere under ``folder`` (hidden ones skipped), sorted; others are tallied."""
    images: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=_raise_unlistable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith("."):
                path = Path(dirpath) / name
                (images if _is_image_name(name) else tally.ignored).append(path)
    return sorted(images)


def _neither_layout(root: Path, entries: list[os.DirEntry[str]]) -> DataError:
    """The refusal for a folder in which no class folder holds images: say what is there."""
    folders = [e.name for e in entries if e.is_dir()]
    if not entries:
        found = "is empty"
    elif not folders:
        found = f"holds no folders, only {_plural(len(entries), 'file')} (e.g. {entries[0].name})"
    else:
        shown = ", ".join(folders[:5]) + (", …" if len(folders) > 5 else "")
        found = f"none of its folders ({shown}) holds images"
    return DataError(f"{root}: {found}; {EXPECTED}")


def _class_folders(base: Path, tally: _Tally) -> dict[str, list[Path]]:
    """The image files of each class folder of ``base`` (sorted by class), checked for use."""
    entries = _visible(base)
    classes = {entry.name: _images_under(Path(entry.path), tally) for entry in entries if entry.is_dir()}
    for entry in entries:
        if not entry.is_dir():  # loose files beside the class folders belong to no class
            (tally.loose if _is_image_name(entry.name) else tally.ignored).append(Path(entry.path))
    if not any(classes.values()):
        raise _neither_layout(base, entries)
    empty = [name for name, files in classes.items() if not files]
    if empty:
        others = f" (and {_plural(len(empty) - 1, 'other class folder')})" if len(empty) > 1 else ""
        raise DataError(
            f"{base / empty[0]}: class folder holds no images (.png, .jpg, .jpeg, .bmp, .gif){others}; "
            "add images to it or remove it"
        )
    if len(classes) < 2:
        raise DataError(
            f"{base}: found only one class folder ({next(iter(classes))}); needs at least 2 classes"
        )
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"{base}: found {len(classes):,} class folders; at most {MAX_CLASSES} classes are supported "
            "(labels are stored as one byte)"
        )
    return classes


def _layout(root: Path) -> str:
    """'folders' for ROOT/train + ROOT/test holding class folders, else 'seeded'; refuse a mix."""
    if not root.exists():
        raise DataError(f"{root}: folder not found; {EXPECTED}")
    if not root.is_dir():
        raise DataError(f"{root}: is a file, not a folder; {EXPECTED}")
    subfolders = _subfolders(root)
    # train/ or test/ holding folders means the user's split was meant, not classes called so.
    splits = [name for name in ("train", "test") if name in subfolders and _subfolders(root / name)]
    if not splits:
        return "seeded"
    others = [name for name in subfolders if name not in ("train", "test")]
    if len(splits) == 2 and not others:
        return "folders"
    if others:
        problem = f"it also holds other folders ({', '.join(others[:5])})"
    else:
        missing = "test" if splits == ["train"] else "train"
        problem = f"{root / missing} is missing or holds no class folders"
    raise DataError(
        f"{root}: {root / splits[0]} holds class folders, as in the train/test layout, but {problem}; "
        f"{EXPECTED}"
    )


@dataclass
class _Plan:
    """The files to read, in order, with their labels; the first ``n_train`` are train ('folders')."""

    paths: list[Path]
    labels: np.ndarray
    class_names: list[str]
    n_train: int


def _flatten(classes: dict[str, list[Path]], names: list[str]) -> tuple[list[Path], np.ndarray]:
    paths = [path for name in names for path in classes[name]]
    counts = [len(classes[name]) for name in names]
    return paths, np.repeat(np.arange(len(names), dtype=np.uint8), counts)


def _test_count(n: int, fraction: float) -> int:
    return math.floor(n * fraction + 0.5)  # round half up (round() would round 2.5 down to 2)


def _plan_seeded(root: Path, fraction: float, tally: _Tally) -> _Plan:
    """ROOT/<class>/…: every class must keep an image on each side of the split."""
    classes = _class_folders(root, tally)
    for name, files in classes.items():
        n_test = _test_count(len(files), fraction)
        if n_test == 0 or n_test == len(files):
            raise DataError(
                f"{root / name}: class {name!r} has {_plural(len(files), 'image')}; a test fraction of "
                f"{fraction:g} leaves {n_test:,} for test and {len(files) - n_test:,} for train, and each "
                "needs at least one; add images to it or change --test-fraction"
            )
    names = sorted(classes)
    paths, labels = _flatten(classes, names)
    return _Plan(paths, labels, names, n_train=0)


def _plan_folders(root: Path, tally: _Tally) -> _Plan:
    """ROOT/train/<class>/… and ROOT/test/<class>/…: the same classes on both sides."""
    for entry in _visible(root):
        if not entry.is_dir():
            (tally.loose if _is_image_name(entry.name) else tally.ignored).append(Path(entry.path))
    train = _class_folders(root / "train", tally)
    test = _class_folders(root / "test", tally)
    if set(train) != set(test):
        only_train, only_test = sorted(set(train) - set(test)), sorted(set(test) - set(train))
        differences = [
            f"only in {side}/: {', '.join(repr(n) for n in names)}"
            for side, names in (("train", only_train), ("test", only_test))
            if names
        ]
        raise DataError(
            f"{root}: train/ and test/ must hold the same class folders; {'; '.join(differences)}"
        )
    names = sorted(train)
    train_paths, train_labels = _flatten(train, names)
    test_paths, test_labels = _flatten(test, names)
    labels = np.concatenate([train_labels, test_labels])
    return _Plan(train_paths + test_paths, labels, names, n_train=len(train_paths))


def _reason(error: Exception) -> str:
    if isinstance(error, UnidentifiedImageError):  # its message repeats the path
        return "not an image format Pillow recognises"
    return str(error) or type(error).__name__


def _open(path: Path) -> tuple[Image.Image, bool]:
    """Decode ``path`` (its first frame) and say whether it is animated; refuse it by name."""
    try:
        with Image.open(path) as image:
            animated = bool(getattr(image, "is_animated", False))
            if animated:
                image.seek(0)
            image.load()  # decode now, inside the try: a truncated file fails here
            return image, animated
    except PermissionError as e:
        raise DataError(f"{path}: cannot read this image (permission denied); check its permissions") from e
    except _UNREADABLE as e:
        raise DataError(f"{path}: cannot read this image ({_reason(e)}); remove or replace it") from e


def _is_colour(image: Image.Image) -> bool:
    """Stored in a colour mode: RGB(A), CMYK, … or a palette holding a colour (a GIF of gray is not)."""
    if image.mode in _GRAY_MODES:
        return False
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette() or [0, 0, 0], dtype=np.uint8).reshape(-1, 3)
        return bool(np.any(palette != palette[:, :1]))
    return True


def _to_gray(image: Image.Image, tally: _Tally) -> Image.Image:
    """8-bit grayscale: luma for colour, transparency flattened onto black, 16 bits scaled."""
    tally.colour += _is_colour(image)
    if image.mode.startswith("I;16"):  # before transparency: Pillow has no I;16 -> RGBA
        tally.deep += 1  # Pillow's convert("L") would clip everything above 255 to white
        wide = np.asarray(image, dtype=np.uint32)
        return Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8))
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        tally.alpha += 1
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))  # MNIST's background
        return Image.alpha_composite(black, image.convert("RGBA")).convert("L")
    return image if image.mode == "L" else image.convert("L")


def _read_image(path: Path, tally: _Tally) -> np.ndarray:
    """One file as a (28, 28) uint8 array."""
    image, animated = _open(path)
    tally.animated += animated
    gray = _to_gray(image, tally)
    if gray.size != (SIZE, SIZE):
        tally.resized += 1
        tally.resized_example = tally.resized_example or f"{gray.size[0]}x{gray.size[1]}"
        gray = gray.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return np.asarray(gray, dtype=np.uint8)


def _read_all(paths: list[Path], tally: _Tally) -> np.ndarray:
    """All files, in order, into one (N, 28, 28) array; a progress bar on stderr for many."""
    images = np.empty((len(paths), SIZE, SIZE), dtype=np.uint8)
    progress = tqdm(
        paths, desc="reading images", unit="image", file=sys.stderr, disable=len(paths) <= PROGRESS_ABOVE
    )
    for i, path in enumerate(progress):
        images[i] = _read_image(path, tally)
    return images


def _stratified(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices: ``fraction`` of each class (rounded) to test, by a seeded permutation."""
    train, test = [], []
    for label in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == label)
        order = members[rng.permutation(len(members))]
        n_test = _test_count(len(members), fraction)
        test.append(order[:n_test])
        train.append(order[n_test:])
    return np.concatenate(train), np.concatenate(test)


def _light_backgrounds(images: np.ndarray) -> int:
    """How many images have a light border (dark strokes on light paper, unlike MNIST's black)."""
    border = np.concatenate(
        [images[:, 0, :], images[:, -1, :], images[:, 1:-1, 0], images[:, 1:-1, -1]], axis=1
    )
    return int(np.count_nonzero(border.mean(axis=1) > LIGHT_BORDER))


def _example(paths: list[Path], root: Path) -> str:
    return str(paths[0].relative_to(root))


def _conversion_notes(tally: _Tally, root: Path) -> list[str]:
    """What had to be done to the images, and what was left out, one line each."""
    candidates = [
        (tally.colour, f"converted {_plural(tally.colour, 'colour image')} to grayscale"),
        (tally.deep, f"scaled {_plural(tally.deep, '16-bit grayscale image')} to 8 bits"),
        (tally.alpha, f"flattened {_plural(tally.alpha, 'image')} with transparency onto black"),
        (tally.animated, f"used the first frame of {_plural(tally.animated, 'animated GIF')}"),
        (
            tally.resized,
            f"resized {_plural(tally.resized, 'image')} from other sizes to {SIZE}x{SIZE} "
            f"(e.g. {tally.resized_example})",
        ),
    ]
    if tally.ignored:
        n = len(tally.ignored)
        what = f"{_plural(n, 'file')} that {'is not an image' if n == 1 else 'are not images'}"
        candidates.append((1, f"ignored {what} (e.g. {_example(tally.ignored, root)})"))
    if tally.loose:
        what = f"{_plural(len(tally.loose), 'image')} outside any class folder"
        candidates.append((1, f"ignored {what} (e.g. {_example(tally.loose, root)})"))
    return [note for count, note in candidates if count]


def _split_note(plan: _Plan, layout: str, fraction: float, seed: int, n_train: int, n_test: int) -> str:
    sizes = f"{n_train:,} train and {n_test:,} test images in {len(plan.class_names)} classes"
    if layout == "folders":
        return f"used the folder's own train/ and test/ split: {sizes}"
    return f"split each class with test fraction {fraction:g} and seed {seed}: {sizes}"


def _check_fraction(test_fraction: float) -> None:
    if not 0 < test_fraction < 1:  # also refuses NaN
        raise DataError(
            f"test fraction must be between 0 and 1, both excluded (got {test_fraction}); "
            "pass --test-fraction such as 0.2"
        )


def read_image_folder(root: Path, test_fraction: float = 0.2, seed: int = 0) -> FolderData:
    """Read a labelled image folder (either layout, see the module docstring) into train and test.

    ``test_fraction`` and ``seed`` choose the split of the one-folder-per-class layout; ``seed``
    also shuffles each split once (in both layouts). Raises :class:`DataError` naming the folder,
    class or file at fault.
    """
    _check_fraction(test_fraction)
    root = Path(root)
    tally = _Tally()
    layout = _layout(root)
    plan = _plan_folders(root, tally) if layout == "folders" else _plan_seeded(root, test_fraction, tally)
    images = _read_all(plan.paths, tally)
    rng = np.random.default_rng(seed)
    if layout == "folders":
        train_idx, test_idx = np.arange(plan.n_train), np.arange(plan.n_train, len(plan.paths))
    else:
        train_idx, test_idx = _stratified(plan.labels, test_fraction, rng)
    # Shuffled once so that batches taken in order are not runs of one class.
    train_idx, test_idx = rng.permutation(train_idx), rng.permutation(test_idx)
    notes = [_split_note(plan, layout, test_fraction, seed, len(train_idx), len(test_idx))]
    notes += _conversion_notes(tally, root)
    light = _light_backgrounds(images)
    if light > len(images) // 2:
        notes.append(
            f"{light:,} of {len(images):,} images have a light background; MNIST digits are light "
            "strokes on black, so invert them if they are dark strokes on light paper"
        )
    return FolderData(
        train=Split(images=images[train_idx], labels=plan.labels[train_idx]),
        test=Split(images=images[test_idx], labels=plan.labels[test_idx]),
        class_names=plan.class_names,
        notes=notes,
        split=layout,
    )
