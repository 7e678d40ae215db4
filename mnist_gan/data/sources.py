"""Any labelled dataset behind one call: IDX files or a folder of images, with its class names.

What a path is, is decided by what is in it: the four IDX files (MNIST, Fashion-MNIST, KMNIST
and any IDX set with labels), or one folder per class holding images
(:mod:`mnist_gan.data.folders`). The class names come from the data: a folder's class
folders; for IDX files a ``classes.txt`` beside them (one name per line, in label order, as
``./download_mnist.sh`` writes it), else ``--class-names``, else the label numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_gan.data import folder_layout, folders, idx
from mnist_gan.data.idx import Split
from mnist_gan.runtime.errors import DataError

CLASSES_FILE = "classes.txt"
# The image-folder split is the same for every run on the same data and fraction, so the
# classifier and the GAN never see each other's test images as training images.
SPLIT_SEED = 0


@dataclass(frozen=True)
class Dataset:
    """The train and test splits of one dataset, and the names of its classes in label order."""

    train: Split
    test: Split
    class_names: list[str]
    source: str  # "IDX files" or "image folder"
    notes: list[str] = field(default_factory=list)  # what was converted, ignored or split

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def splits(self) -> tuple[Split, Split]:
        return self.train, self.test


def parse_names(text: str) -> list[str]:
    """'T-shirt/top, Trouser, ...' -> the names, stripped; '' -> []; an empty name is refused."""
    names = [name.strip() for name in text.split(",")] if text.strip() else []
    if "" in names:
        raise DataError(
            f"--class-names {text!r}: has an empty name; give one name per class, comma-separated"
        )
    return names


def _read_names(listed: Path) -> list[str]:
    """The names in a classes.txt, one per line."""
    try:
        text = listed.read_text(encoding="utf-8-sig")  # -sig: Notepad's byte-order mark is no name
    except UnicodeDecodeError as e:
        raise DataError(f"{listed}: not UTF-8 text (byte {e.start}); save it as UTF-8") from e
    except OSError as e:
        raise DataError(f"{listed}: cannot read it ({e.strerror or e})") from e
    names = [line.strip() for line in text.splitlines()]
    while names and not names[-1]:
        names.pop()
    if "" in names:
        raise DataError(
            f"{listed}: line {names.index('') + 1} is blank, which would shift every name after it "
            "onto the wrong label; write one name per line, in label order"
        )
    if not names:
        raise DataError(f"{listed}: holds no class names; write one per line, in label order")
    return names


def _idx_names(folder: Path, given: list[str], labels: int) -> list[str]:
    """Class names of an IDX set: ``given``, else its classes.txt, else the label numbers."""
    listed = folder / CLASSES_FILE
    source: str | Path
    if given:
        source, names = "--class-names", given
    elif listed.is_file():
        source, names = listed, _read_names(listed)
    else:
        return [str(label) for label in range(labels)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        shown = ", ".join(map(repr, twice))
        raise DataError(f"{source}: names {shown} more than once; class names must differ")
    if labels > len(names):
        raise DataError(
            f"{folder}: labels go up to {labels - 1} but {source} names {len(names)} classes; "
            "name every class, in label order"
        )
    return names


def _from_idx(folder: Path, given: list[str]) -> Dataset:
    train, test = idx.load_split(folder, "train"), idx.load_split(folder, "test")
    labels = int(max(train.labels.max(), test.labels.max())) + 1
    names = _idx_names(folder, given, labels)
    if len(names) < 2:
        raise DataError(f"{folder}: needs at least 2 classes, the labels name {len(names)}")
    # A class without training images cannot be learnt; a stray label (a damaged byte, 255
    # for "none") would otherwise make hundreds of classes silently.
    empty = [names[c] for c in np.flatnonzero(np.bincount(train.labels, minlength=len(names)) == 0)]
    if empty:
        more = f" and {len(empty) - 10} more" if len(empty) > 10 else ""
        raise DataError(
            f"{folder}: no training images of the classes {', '.join(map(repr, empty[:10]))}{more}; "
            f"every class needs some: is a label beyond the real classes, or a name too many in "
            f"{CLASSES_FILE} or --class-names?"
        )
    return Dataset(train=train, test=test, class_names=names, source="IDX files")


def _from_folder(root: Path, test_fraction: float, given: list[str]) -> Dataset:
    if given:
        raise DataError(f"{root}: --class-names is for IDX files; an image folder's classes are its folders")
    found = folders.read_image_folder(root, test_fraction, SPLIT_SEED)
    notes = list(found.notes)
    if found.split == "folders":
        notes += _unused_fraction(test_fraction, "its train/ and test/ folders are its split")
    return Dataset(found.train, found.test, found.class_names, "image folder", notes)


def _unused_fraction(test_fraction: float, why: str) -> list[str]:
    """The note for a --test-fraction the data's own split overrides (none at the default)."""
    if test_fraction == folders.DEFAULT_TEST_FRACTION:
        return []
    return [f"--test-fraction {test_fraction:g} does not apply to this data: {why}"]


def is_idx(folder: Path) -> bool:
    """Does ``folder`` hold IDX files (rather than an image folder, or nothing)?"""
    names = {p.name.removesuffix(".gz") for p in folder.iterdir()} if folder.is_dir() else set()
    return any(stem in names for pair in idx.SPLIT_FILES.values() for stem in pair)


def keys_that_apply(folder: Path) -> tuple[str, ...]:
    """The config keys that shape how ``folder`` is read: class names for IDX files (which hold
    labels alone), the test fraction for an image folder (whose classes are its folders)."""
    return ("class_names",) if is_idx(folder) else ("test_fraction",)


def load(
    data_dir: str | Path, test_fraction: float = folders.DEFAULT_TEST_FRACTION, class_names: str = ""
) -> Dataset:
    """The dataset at ``data_dir``: IDX files or an image folder, whichever it holds."""
    folder, given = Path(data_dir), parse_names(class_names)
    if folder.is_file():
        raise DataError(f"{folder}: is a file, not a folder (an archive? unpack it and pass the folder)")
    if is_idx(folder) or not folder.is_dir():
        data = _from_idx(folder, given)  # a missing folder: the IDX reader says how to get MNIST
        data.notes.extend(_unused_fraction(test_fraction, "the IDX files hold their own split"))
        return data
    if folders.is_image_folder(folder):
        return _from_folder(folder, test_fraction, given)
    raise DataError(
        f"{folder}: holds neither the four IDX files ({idx.SPLIT_FILES['train'][0]}[.gz], ...) nor "
        f"an image folder ({folder_layout.EXPECTED}); {idx.get_data_hint(folder)}"
    )


def check_classes(
    expected: list[str], found: list[str], what: str, fix: str = "use data with the same classes"
) -> None:
    """Refuse ``found`` classes that are not ``expected`` ones, naming both lists and ``fix``."""
    if list(expected) != list(found):
        raise DataError(f"{what} has the classes {expected}, the data {found}; {fix}")
