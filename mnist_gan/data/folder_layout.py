"""Which of the two image-folder layouts a folder holds, and its class folders.

``ROOT/<class>/*.png`` (one folder per class) or ``ROOT/train/<class>/`` and
``ROOT/test/<class>/`` (the user's own split). Class folders are read recursively; names
starting with '.' are skipped; other files are counted for the notes.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from mnist_gan.data import image_files
from mnist_gan.runtime.errors import DataError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"})
# Labels are stored as uint8 (as in the IDX files), so 0-255.
MAX_CLASSES = 256

EXPECTED = (
    "expected one folder per class holding images (ROOT/<class>/*.png, .jpg, .jpeg, .bmp or .gif), "
    "or train/ and test/ folders holding those"
)


def visible(folder: Path) -> list[os.DirEntry[str]]:
    """Entries of ``folder`` not hidden (no leading '.'), sorted by name."""
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as e:
        raise DataError(
            f"{folder}: cannot list this folder ({e.strerror or e}); check its permissions"
        ) from e


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _subfolders(folder: Path) -> list[str]:
    return [e.name for e in visible(folder) if e.is_dir()]


def _walk(folder: Path, onerror: Callable[[OSError], None] | None = None) -> Iterator[tuple[str, list[str]]]:
    """(folder, file names) for ``folder`` and every folder under it, linked ones too (as
    torchvision's ImageFolder follows them), each real folder once (a link back up would
    never end); hidden folders skipped, sub-folders in sorted order."""
    seen = {os.path.realpath(folder)}
    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror, followlinks=True):
        kept = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            real = os.path.realpath(os.path.join(dirpath, name))
            if real not in seen:
                seen.add(real)
                kept.append(name)
        dirnames[:] = kept
        yield dirpath, filenames


def is_image_folder(root: Path) -> bool:
    """Cheap check, no image opened: does ``root`` look like either layout?

    True for a folder with train/ and test/ subfolders, or with a subfolder holding a file
    with an image extension at any depth (class folders are read recursively); the walk stops
    at the first such file.
    """
    root = Path(root)
    if not root.is_dir():
        return False
    try:
        subfolders = _subfolders(root)
        if {"train", "test"} <= set(subfolders):
            return True
        for name in subfolders:
            for _, files in _walk(root / name):
                if any(is_image_name(f) and not f.startswith(".") for f in files):
                    return True
    except (OSError, DataError):
        return False
    return False


def _raise_unlistable(error: OSError) -> None:
    raise DataError(f"{error.filename}: cannot list this folder ({error.strerror}); check its permissions")


def _images_under(folder: Path, tally: image_files.Tally) -> list[Path]:
    """Image files anywhere under ``folder`` (hidden ones skipped), sorted; others are tallied."""
    images: list[Path] = []
    for dirpath, filenames in _walk(folder, onerror=_raise_unlistable):
        for name in filenames:
            if not name.startswith("."):
                path = Path(dirpath) / name
                (images if is_image_name(name) else tally.ignored).append(path)
    return sorted(images)


def _neither_layout(root: Path, entries: list[os.DirEntry[str]]) -> DataError:
    """The refusal for a folder in which no class folder holds images: say what is there."""
    folders = [e.name for e in entries if e.is_dir()]
    if not entries:
        found = "is empty"
    elif not folders:
        found = f"holds no folders, only {image_files.plural(len(entries), 'file')} (e.g. {entries[0].name})"
    else:
        shown = ", ".join(folders[:5]) + (", …" if len(folders) > 5 else "")
        found = f"none of its folders ({shown}) holds images"
    return DataError(f"{root}: {found}; {EXPECTED}")


def class_folders(base: Path, tally: image_files.Tally) -> dict[str, list[Path]]:
    """The image files of each class folder of ``base`` (sorted by class), checked for use."""
    entries = visible(base)
    dirs = [entry for entry in entries if entry.is_dir()]
    for entry in dirs:
        try:
            entry.name.encode("utf-8")
        except UnicodeEncodeError:  # a class name in another encoding (an old zip) cannot be recorded
            raise DataError(
                f"{entry.path!a}: this name is not UTF-8 text (from an archive made with another "
                "encoding?); rename it"
            ) from None
    classes = {entry.name: _images_under(Path(entry.path), tally) for entry in dirs}
    for entry in entries:
        if not entry.is_dir():  # loose files beside the class folders belong to no class
            (tally.loose if is_image_name(entry.name) else tally.ignored).append(Path(entry.path))
    if not any(classes.values()):
        raise _neither_layout(base, entries)
    empty = [name for name, files in classes.items() if not files]
    if empty:
        others = (
            f" (and {image_files.plural(len(empty) - 1, 'other class folder')})" if len(empty) > 1 else ""
        )
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


# Other spellings of a split's folders: refused by name rather than read as two classes.
_SPLIT_SPELLINGS = frozenset({"train", "test", "training", "testing", "validation", "val", "valid"})


def layout(root: Path) -> str:
    """'folders' for ROOT/train + ROOT/test holding class folders, else 'seeded'; refuse a mix."""
    if not root.exists():
        raise DataError(f"{root}: folder not found; {EXPECTED}")
    if not root.is_dir():
        raise DataError(f"{root}: is a file, not a folder; {EXPECTED}")
    subfolders = _subfolders(root)
    exact = {"train", "test"} & set(subfolders)
    spelt = [n for n in subfolders if not exact and n.lower() in _SPLIT_SPELLINGS and _subfolders(root / n)]
    if len(spelt) >= 2:
        raise DataError(
            f"{root}: {' and '.join(spelt)} hold folders, as a train/test split would, but the split is "
            "read from folders named train/ and test/ (lower case); rename them"
        )
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
