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

Every image becomes 28x28 8-bit grayscale as :mod:`mnist_gan.data.image_files` says.

Files are read in sorted order and each split is shuffled once with the seed (so batches are
not runs of one class): the same folder, fraction and seed give the same arrays bit for bit.
Standard library, NumPy and Pillow only: no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_gan.data import folder_layout, image_files
from mnist_gan.data.folder_layout import IMAGE_EXTENSIONS, MAX_CLASSES, is_image_folder
from mnist_gan.data.idx import Split
from mnist_gan.runtime.errors import DataError

__all__ = ["IMAGE_EXTENSIONS", "MAX_CLASSES", "FolderData", "is_image_folder", "read_image_folder"]


@dataclass(frozen=True)
class FolderData:
    """A labelled image folder read into train and test splits."""

    train: Split  # images uint8 (N, 28, 28), labels uint8 (N,)
    test: Split
    class_names: list[str]
    notes: list[str]  # what was converted/ignored/how split, for the run to print
    split: str  # "folders" (user's train/test) or "seeded" (test_fraction)


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


def _plan_seeded(root: Path, fraction: float, tally: image_files.Tally) -> _Plan:
    """ROOT/<class>/…: every class must keep an image on each side of the split."""
    classes = folder_layout.class_folders(root, tally)
    for name, files in classes.items():
        n_test = _test_count(len(files), fraction)
        if n_test == 0 or n_test == len(files):
            raise DataError(
                f"{root / name}: class {name!r} has {image_files.plural(len(files), 'image')}; "
                f"a test fraction of {fraction:g} leaves {n_test:,} for test and "
                f"{len(files) - n_test:,} for train, and each needs at least one; add images to it "
                "or change --test-fraction"
            )
    names = sorted(classes)
    paths, labels = _flatten(classes, names)
    return _Plan(paths, labels, names, n_train=0)


def _plan_folders(root: Path, tally: image_files.Tally) -> _Plan:
    """ROOT/train/<class>/… and ROOT/test/<class>/…: the same classes on both sides."""
    for entry in folder_layout.visible(root):
        if not entry.is_dir():
            (tally.loose if folder_layout.is_image_name(entry.name) else tally.ignored).append(
                Path(entry.path)
            )
    train = folder_layout.class_folders(root / "train", tally)
    test = folder_layout.class_folders(root / "test", tally)
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


# The configs' test_fraction default (gan.yaml, classifier.yaml; a test keeps them in step);
# another value is noted where the data brings its own split.
DEFAULT_TEST_FRACTION = 0.2


def read_image_folder(root: Path, test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0) -> FolderData:
    """Read a labelled image folder (either layout, see the module docstring) into train and test.

    ``test_fraction`` and ``seed`` choose the split of the one-folder-per-class layout; ``seed``
    also shuffles each split once (in both layouts). Raises :class:`DataError` naming the folder,
    class or file at fault.
    """
    _check_fraction(test_fraction)
    root = Path(root)
    tally = image_files.Tally()
    layout = folder_layout.layout(root)
    plan = _plan_folders(root, tally) if layout == "folders" else _plan_seeded(root, test_fraction, tally)
    images = image_files.read_all(plan.paths, tally)
    rng = np.random.default_rng(seed)
    if layout == "folders":
        train_idx, test_idx = np.arange(plan.n_train), np.arange(plan.n_train, len(plan.paths))
    else:
        train_idx, test_idx = _stratified(plan.labels, test_fraction, rng)
    # Shuffled once so that batches taken in order are not runs of one class.
    train_idx, test_idx = rng.permutation(train_idx), rng.permutation(test_idx)
    notes = [_split_note(plan, layout, test_fraction, seed, len(train_idx), len(test_idx))]
    notes += image_files.conversion_notes(tally, root)
    light = image_files.light_backgrounds(images)
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
