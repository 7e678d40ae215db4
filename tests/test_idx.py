"""The IDX reader accepts MNIST-format files and refuses every kind of damage by name."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_digits, write_dataset

from mnist_gan.data.idx import IdxError, load_split, read_idx, write_idx
from mnist_gan.runtime.errors import DataError


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(tmp_path: Path, gz: bool) -> None:
    x, y = synthetic_digits(30)
    write_dataset(tmp_path, x, y, x[:10], y[:10], gz=gz)
    split = load_split(tmp_path, "train")
    np.testing.assert_array_equal(split.images, x)
    np.testing.assert_array_equal(split.labels, y)
    assert len(load_split(tmp_path, "test")) == 10


def _header(ndim_code: int, *shape: int, dtype: int = 0x08) -> bytes:
    return bytes([0, 0, dtype, ndim_code]) + struct.pack(f">{len(shape)}I", *shape)


def test_wrong_magic(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(_header(3, 1, 28, 28, dtype=0x0D) + bytes(784))
    with pytest.raises(IdxError, match=r"x: bad magic number"):
        read_idx(path, 3)


def test_wrong_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(_header(1, 5) + bytes(5))
    with pytest.raises(IdxError, match="has 1 dimensions, expected 3"):
        read_idx(path, 3)


def test_truncated_payload(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_header(3, 2, 28, 28) + bytes(784 + 100)))
    with pytest.raises(IdxError, match=r"x.gz: truncated.*holds 884"):
        read_idx(path, 3)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(_header(3, 2)[:6])
    with pytest.raises(IdxError, match="truncated header"):
        read_idx(path, 3)


def test_trailing_garbage(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(_header(1, 3) + bytes(4))
    with pytest.raises(IdxError, match="1 bytes of trailing garbage"):
        read_idx(path, 1)


def test_damaged_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_header(1, 3) + bytes(3))[:-6])
    with pytest.raises(IdxError, match=r"x\.gz: cannot read"):
        read_idx(path, 1)


def test_wrong_image_size(tmp_path: Path) -> None:
    x, y = synthetic_digits(10)
    write_dataset(tmp_path, x, y, x, y)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((10, 27, 28), np.uint8))
    with pytest.raises(IdxError, match=r"train-images-idx3-ubyte.gz: images are \(27, 28\)"):
        load_split(tmp_path, "train")


def test_count_mismatch(tmp_path: Path) -> None:
    x, y = synthetic_digits(10)
    write_dataset(tmp_path, x, y[:9], x, y)
    with pytest.raises(IdxError, match=r"has 10 images but .*train-labels-idx1-ubyte\.gz has 9 labels"):
        load_split(tmp_path, "train")


def test_label_beyond_the_named_classes(tmp_path: Path) -> None:
    from mnist_gan.data import sources

    x, y = synthetic_digits(10)
    y = y.copy()
    y[4] = 11
    write_dataset(tmp_path, x, y, x, y)
    (tmp_path / "classes.txt").write_text("\n".join(str(d) for d in range(10)) + "\n")
    with pytest.raises(DataError, match=r"labels go up to 11 but \S*classes.txt names 10 classes"):
        sources.load(tmp_path)
    # Named, the twelve classes still need training images each: 'e' lost its one, 'k' has none.
    with pytest.raises(
        DataError, match=r"no training images of the classes 'e', 'k'; every class needs some"
    ):
        sources.load(tmp_path, class_names=",".join("abcdefghijkl"))


def test_missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    x, y = synthetic_digits(10)
    write_dataset(tmp_path, x, y, x, y)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(IdxError, match=r"t10k-labels-idx1-ubyte\(.gz\): file not found.*download_mnist.sh"):
        load_split(tmp_path, "test")


def test_missing_data_names_the_offline_sample_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After `make demo` a command without --data-dir looks in datasets/MNIST, which it never
    # wrote: the hint names the folder it did write, not the download that made it.
    x, y = synthetic_digits(10)
    (tmp_path / "datasets" / "MNIST-5k").mkdir(parents=True)
    write_dataset(tmp_path / "datasets" / "MNIST-5k", x, y, x, y)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        IdxError,
        match=r"^datasets/MNIST/train-images-idx3-ubyte\(.gz\): file not found; the offline sample is in "
        r"datasets/MNIST-5k: pass --data-dir datasets/MNIST-5k \(or run ./download_mnist.sh",
    ):
        load_split(Path("datasets/MNIST"), "train")


def test_missing_data_without_the_sample_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        IdxError,
        match=r"file not found; run ./download_mnist.sh to fetch MNIST, or ./download_mnist.sh --sample",
    ):
        load_split(Path("datasets/MNIST"), "train")


def test_plain_file_preferred_name_is_found(tmp_path: Path) -> None:
    x, y = synthetic_digits(10)
    write_dataset(tmp_path, x, y, x, y, gz=False)
    assert len(load_split(tmp_path, "train")) == 10
