"""The image-folder reader: both layouts, every conversion counted, every refusal names its culprit.

Each image of the small dataset built here has a unique gray level in its top-left corner (its
"signature"), so an image can be traced through conversion, splitting and shuffling.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_gan.data.folders import MAX_CLASSES, FolderData, is_image_folder, read_image_folder
from mnist_gan.runtime.errors import DataError, IdxError, UserError

CLASSES = ["alpha", "class two", "zeta"]  # sorted() order, one name with a space
PER_CLASS = 5
GREEN_LUMA = 150  # Pillow's L of pure green (0, 255, 0): 0.587 * 255, rounded


def signature(index: int) -> int:
    """The gray level of the image ``index``: 14 apart, so ±3 of JPEG or resizing error is told apart."""
    return 20 + 14 * index


def _gray(value: int, size: int = 28) -> Image.Image:
    return Image.new("L", (size, size), value)


def _rgb(value: int) -> Image.Image:
    """Gray with a pure green bottom row: the row tests the colour-to-luma conversion."""
    image = Image.new("RGB", (28, 28), (value, value, value))
    image.paste((0, 255, 0), (0, 27, 28, 28))
    return image


def _rgba(value: int) -> Image.Image:
    """Opaque gray top half over a fully transparent white bottom half."""
    image = Image.new("RGBA", (28, 28), (255, 255, 255, 0))
    image.paste((value, value, value, 255), (0, 0, 28, 14))
    return image


def _save_gif(path: Path, value: int) -> None:
    """A two-frame animated GIF: only the first frame (``value``) should be read."""
    _gray(value).save(path, save_all=True, append_images=[_gray(255)])


def make_class_folders(root: Path) -> dict[int, int]:
    """Three classes of five images, one of each kind; returns signature -> label."""
    expected = {}
    for label, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(PER_CLASS):
            value = signature(label * PER_CLASS + i)
            expected[value] = label
            _gray(value).save(folder / f"{i:02d}.png")
    # Replace some of them by the other kinds (same signatures, other formats and modes).
    (root / "alpha" / "01.png").unlink()
    _gray(signature(1)).save(root / "alpha" / "01.JPG", quality=95)
    (root / "alpha" / "02.png").unlink()
    _rgb(signature(2)).save(root / "alpha" / "02.png")
    (root / "class two" / "00.png").unlink()
    _rgba(signature(5)).save(root / "class two" / "00.png")
    (root / "class two" / "01.png").unlink()
    _gray(signature(6), size=32).save(root / "class two" / "01.png")
    (root / "zeta" / "00.png").unlink()
    _save_gif(root / "zeta" / "00.gif", signature(10))
    (root / "class two" / "notes.txt").write_text("not an image\n")
    # Hidden things are skipped silently, even an unreadable "image".
    (root / "zeta" / ".DS_Store").write_bytes(b"\0garbage")
    (root / ".cache").mkdir()
    (root / ".cache" / "junk.png").write_bytes(b"garbage")
    return expected


@pytest.fixture
def class_root(tmp_path: Path) -> tuple[Path, dict[int, int]]:
    root = tmp_path / "digits"
    return root, make_class_folders(root)


def identify(image: np.ndarray) -> int:
    """The signature of one read image (its top-left corner), checked to be one of ours."""
    value = int(image[2, 2])
    nearest = signature(round((value - 20) / 14))
    assert abs(value - nearest) <= 3, value
    return nearest


def _by_signature(data: FolderData) -> dict[int, np.ndarray]:
    images = np.concatenate([data.train.images, data.test.images])
    return {identify(image): image for image in images}


def test_reads_class_folders(class_root: tuple[Path, dict[int, int]]) -> None:
    root, expected = class_root
    data = read_image_folder(root)
    assert data.split == "seeded"
    assert data.class_names == CLASSES
    for split, size in ((data.train, 12), (data.test, 3)):
        assert split.images.shape == (size, 28, 28) and split.images.dtype == np.uint8
        assert split.labels.shape == (size,) and split.labels.dtype == np.uint8
        for image, label in zip(split.images, split.labels):
            assert expected[identify(image)] == label  # labels follow sorted class order
    # Stratified: 0.2 of 5 is one test image per class.
    assert sorted(data.test.labels.tolist()) == [0, 1, 2]
    assert np.bincount(data.train.labels).tolist() == [4, 4, 4]


def test_conversions(class_root: tuple[Path, dict[int, int]]) -> None:
    root, _ = class_root
    images = _by_signature(read_image_folder(root))
    assert len(images) == 3 * PER_CLASS
    assert np.all(images[signature(2)][27] == GREEN_LUMA)  # RGB: luma
    assert np.all(images[signature(2)][:27] == signature(2))
    assert np.all(images[signature(5)][:14] == signature(5))  # RGBA: opaque part kept
    assert np.all(images[signature(5)][14:] == 0)  # transparent white flattened onto black
    assert np.abs(images[signature(6)].astype(int) - signature(6)).max() <= 1  # 32x32 resized
    assert np.all(images[signature(10)] == signature(10))  # animated GIF: first frame
    assert np.abs(images[signature(1)].astype(int) - signature(1)).max() <= 3  # JPEG


def test_notes_report_conversions_and_ignored_files(class_root: tuple[Path, dict[int, int]]) -> None:
    root, _ = class_root
    notes = read_image_folder(root, seed=3).notes
    assert notes == [
        "split each class with test fraction 0.2 and seed 3: 12 train and 3 test images in 3 classes",
        "converted 2 colour images to grayscale",
        "flattened 1 image with transparency onto black",
        "used the first frame of 1 animated GIF",
        "resized 1 image from other sizes to 28x28 (e.g. 32x32)",
        "ignored 1 file that is not an image (e.g. class two/notes.txt)",
    ]


def test_16_bit_bmp_cmyk_palette_and_stray_images(tmp_path: Path) -> None:
    """The rarer modes: 16 bits scaled (not clipped), CMYK and a colour palette to luma."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.fromarray(np.full((28, 28), 40000, dtype=np.uint16)).save(tmp_path / "a" / "deep.png")
    _gray(signature(1)).save(tmp_path / "a" / "plain.BMP")
    Image.new("CMYK", (28, 28), (0, 0, 0, 255 - signature(2))).save(tmp_path / "b" / "cmyk.jpeg")
    _rgb(signature(3)).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "b" / "palette.png")
    _gray(0).save(tmp_path / "stray.png")
    data = read_image_folder(tmp_path, test_fraction=0.5)
    images = np.concatenate([data.train.images, data.test.images])
    assert sorted(int(image[0, 0]) for image in images) == sorted(
        [round(40000 * 255 / 65535), signature(1), signature(2), signature(3)]
    )
    assert data.notes[1:] == [
        "converted 2 colour images to grayscale",
        "scaled 1 16-bit grayscale image to 8 bits",
        "ignored 1 image outside any class folder (e.g. stray.png)",
    ]


def test_same_seed_same_arrays_other_seed_other_split(class_root: tuple[Path, dict[int, int]]) -> None:
    root, _ = class_root
    first, again, other = (read_image_folder(root, seed=s) for s in (0, 0, 1))
    for a, b in ((first.train, again.train), (first.test, again.test)):
        assert a.images.tobytes() == b.images.tobytes() and a.labels.tobytes() == b.labels.tobytes()
    test_of = {identify(image) for image in first.test.images}
    assert test_of != {identify(image) for image in other.test.images}
    assert sorted(other.test.labels.tolist()) == [0, 1, 2]  # still stratified


def test_splits_are_shuffled_not_runs_of_one_class(class_root: tuple[Path, dict[int, int]]) -> None:
    root, _ = class_root
    labels = read_image_folder(root).train.labels
    assert labels.tolist() != sorted(labels.tolist())


@pytest.mark.parametrize(("fraction", "n_test"), [(0.4, 2), (0.5, 3), (0.8, 4)])
def test_fraction_rounds_half_up_per_class(
    class_root: tuple[Path, dict[int, int]], fraction: float, n_test: int
) -> None:
    data = read_image_folder(class_root[0], test_fraction=fraction)
    assert np.bincount(data.test.labels).tolist() == [n_test] * 3
    assert np.bincount(data.train.labels).tolist() == [PER_CLASS - n_test] * 3


def _write_split(root: Path, counts: dict[str, dict[str, int]]) -> dict[int, tuple[str, str]]:
    """ROOT/<split>/<class>/*.png; returns signature -> (split, class)."""
    where, index = {}, 0
    for split, classes in counts.items():
        for name, count in classes.items():
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                _gray(signature(index)).save(root / split / name / f"{i}.png")
                where[signature(index)] = (split, name)
                index += 1
    return where


def test_reads_the_users_train_test_split(tmp_path: Path) -> None:
    root = tmp_path / "split"
    where = _write_split(root, {"train": {"b": 3, "a": 3}, "test": {"a": 1, "b": 2}})
    (root / "README.md").write_text("my digits\n")
    data = read_image_folder(root, test_fraction=0.5, seed=7)  # the fraction does not apply
    assert data.split == "folders"
    assert data.class_names == ["a", "b"]
    assert data.train.images.shape == (6, 28, 28) and data.test.images.shape == (3, 28, 28)
    for split_name, split in (("train", data.train), ("test", data.test)):
        for image, label in zip(split.images, split.labels):
            assert where[identify(image)] == (split_name, data.class_names[label])
    assert data.notes == [
        "used the folder's own train/ and test/ split: 6 train and 3 test images in 2 classes",
        "ignored 1 file that is not an image (e.g. README.md)",
    ]
    assert is_image_folder(root)


def test_notes_a_light_background(tmp_path: Path) -> None:
    """Dark strokes on white paper are read as they are, with a note suggesting to invert them."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(2):
            paper = Image.new("L", (28, 28), 250)
            paper.paste(10, (10, 4, 18, 24))
            paper.save(tmp_path / name / f"{i}.png")
    data = read_image_folder(tmp_path, test_fraction=0.5)
    assert data.notes[-1] == (
        "4 of 4 images have a light background; MNIST digits are light strokes on black, "
        "so invert them if they are dark strokes on light paper"
    )
    assert data.train.images[0, 0, 0] == 250


def test_is_image_folder(class_root: tuple[Path, dict[int, int]], tmp_path: Path) -> None:
    assert is_image_folder(class_root[0])
    assert not is_image_folder(tmp_path / "missing")
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    assert not is_image_folder(tmp_path / "idx")
    assert not is_image_folder(tmp_path / "idx" / "train-images-idx3-ubyte.gz")


def test_module_needs_no_tensorflow() -> None:
    code = "import sys, mnist_gan.data.folders; assert 'tensorflow' not in sys.modules"
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


def test_idx_error_is_a_data_error() -> None:
    assert issubclass(IdxError, DataError)
    assert issubclass(DataError, UserError) and issubclass(DataError, ValueError)


# Refusals: each names the file, class or folder at fault.


def test_refuses_an_image_that_is_not_one(class_root: tuple[Path, dict[int, int]]) -> None:
    root, _ = class_root
    bad = root / "zeta" / "garbage.png"
    bad.write_bytes(b"this is not a PNG" * 10)
    with pytest.raises(DataError, match=rf"{bad}: cannot read this image \(.*\); remove or replace it"):
        read_image_folder(root)


def test_refuses_a_truncated_image(class_root: tuple[Path, dict[int, int]]) -> None:
    root, _ = class_root
    path = root / "class two" / "03.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=rf"{path}: cannot read this image \(.*truncated.*\)"):
        read_image_folder(root)


def test_refuses_a_single_class(tmp_path: Path) -> None:
    _write_split(tmp_path, {"only": {"7": 4}})
    with pytest.raises(DataError, match=r"only one class folder \(7\); needs at least 2 classes"):
        read_image_folder(tmp_path / "only")


def test_refuses_an_empty_class(class_root: tuple[Path, dict[int, int]]) -> None:
    root, _ = class_root
    (root / "empty one").mkdir()
    with pytest.raises(DataError, match=rf"{root / 'empty one'}: class folder holds no images"):
        read_image_folder(root)


def test_refuses_a_class_too_small_to_split(class_root: tuple[Path, dict[int, int]]) -> None:
    root, _ = class_root
    (root / "lonely").mkdir()
    _gray(3).save(root / "lonely" / "0.png")
    _gray(3).save(root / "lonely" / "1.png")
    with pytest.raises(DataError, match=r"class 'lonely' has 2 images.*change --test-fraction"):
        read_image_folder(root)
    assert len(read_image_folder(root, test_fraction=0.5).test) == 3 * 3 + 1  # 2.5 rounds up, 1 stays 1


def test_refuses_an_empty_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{tmp_path}: is empty; expected one folder per class"):
        read_image_folder(tmp_path)


def test_refuses_a_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{tmp_path / 'nope'}: folder not found; expected"):
        read_image_folder(tmp_path / "nope")


def test_refuses_a_folder_in_neither_layout(tmp_path: Path) -> None:
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"holds no folders, only 1 file .*train/ and test/ folders"):
        read_image_folder(tmp_path)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run.txt").write_text("")
    with pytest.raises(DataError, match=r"none of its folders \(logs\) holds images; expected"):
        read_image_folder(tmp_path)


def test_refuses_mismatched_train_and_test_classes(tmp_path: Path) -> None:
    _write_split(tmp_path, {"train": {"a": 2, "b": 2, "c": 1}, "test": {"a": 1, "b": 1, "d": 1}})
    with pytest.raises(DataError, match=r"same class folders; only in train/: 'c'; only in test/: 'd'"):
        read_image_folder(tmp_path)


def test_refuses_train_without_test(tmp_path: Path) -> None:
    _write_split(tmp_path, {"train": {"a": 2, "b": 2}})
    with pytest.raises(DataError, match=rf"{tmp_path / 'test'} is missing or holds no class folders"):
        read_image_folder(tmp_path)


def test_refuses_too_many_classes(tmp_path: Path) -> None:
    one = tmp_path / "one.png"
    _gray(0).save(one)
    for i in range(MAX_CLASSES + 1):
        (tmp_path / "root" / f"{i:03d}").mkdir(parents=True)
        (tmp_path / "root" / f"{i:03d}" / "0.png").write_bytes(one.read_bytes())
    with pytest.raises(DataError, match=r"found 257 class folders; at most 256 classes"):
        read_image_folder(tmp_path / "root")


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5, math.nan])
def test_refuses_a_test_fraction_outside_0_1(
    class_root: tuple[Path, dict[int, int]], fraction: float
) -> None:
    with pytest.raises(ValueError, match=r"test fraction must be between 0 and 1.*--test-fraction") as caught:
        read_image_folder(class_root[0], test_fraction=fraction)
    assert isinstance(caught.value, DataError)


@pytest.mark.parametrize("names", [("Train", "Test"), ("training", "testing"), ("Training", "Validation")])
def test_a_split_spelt_otherwise_is_refused_not_read_as_two_classes(
    tmp_path: Path, names: tuple[str, str]
) -> None:
    _write_split(tmp_path, {names[0]: {"a": 2, "b": 2}, names[1]: {"a": 1, "b": 1}})
    with pytest.raises(
        DataError, match=rf"{min(names)} and {max(names)} hold folders, as a train/test split would"
    ):
        read_image_folder(tmp_path)


def test_two_classes_named_like_splits_that_hold_images_are_classes(tmp_path: Path) -> None:
    for name in ("Train", "Test"):
        (tmp_path / name).mkdir()
        for i in range(3):
            _gray(40 * i).save(tmp_path / name / f"{i}.png")
    assert read_image_folder(tmp_path, 0.34).class_names == ["Test", "Train"]


def test_a_class_folder_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    make_class_folders(tmp_path / "digits")
    root = tmp_path / "digits"
    os.rename(os.fsencode(root / "zeta"), os.fsencode(root) + b"/caf\xe9")  # Latin-1, from an old zip
    with pytest.raises(DataError, match=r"caf\\udce9'?: this name is not UTF-8 text .*; rename it"):
        read_image_folder(root)


def test_linked_folders_are_read_once_and_a_link_back_up_ends(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for name, count in (("a", 3), ("b", 3)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            _gray(signature(i)).save(root / name / f"{i}.png")
    more = tmp_path / "elsewhere"
    more.mkdir()
    for i in range(2):
        _gray(signature(10 + i)).save(more / f"{i}.png")
    (root / "a" / "more").symlink_to(more, target_is_directory=True)  # as ImageFolder, followed
    (root / "b" / "loop").symlink_to(root / "b", target_is_directory=True)  # back up: read once
    (root / "c").mkdir()
    (root / "c" / "only-a-link").symlink_to(more, target_is_directory=True)
    data = read_image_folder(root, 0.34)
    counts = np.bincount(np.concatenate([data.train.labels, data.test.labels]))
    assert data.class_names == ["a", "b", "c"] and counts.tolist() == [5, 3, 2]


def test_a_very_large_image_is_read_without_pillows_warning(
    class_root: tuple[Path, dict[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = class_root
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 600)  # 784 and 1,024 pixels: past it, below twice it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = read_image_folder(root)
    assert len(data.train) + len(data.test) > 0
