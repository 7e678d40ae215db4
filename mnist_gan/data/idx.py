"""Reading and writing IDX files (the MNIST container format), with strict validation.

Pure NumPy and the standard library: no TensorFlow, so the dataset tools stay light.
Every error is an :class:`IdxError` whose message names the file and says what to do.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_gan.runtime.errors import IdxError
from mnist_gan.runtime.files import atomic_write_bytes

__all__ = ["IdxError", "Split", "find_file", "load_split", "read_idx", "write_idx"]

# The IDX magic is 0x00 0x00 <dtype> <ndim>; MNIST uses unsigned bytes only.
_UBYTE = 0x08
IMAGES_NDIM = 3
LABELS_NDIM = 1

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
GET_DATA_HINT = (
    "run ./download_mnist.sh to fetch MNIST, or ./download_mnist.sh --sample for the offline "
    "5,000-digit sample, or pass --data-dir pointing at a folder with the IDX files"
)
# Where `./download_mnist.sh --sample` (and `make demo`) put the offline sample by default.
SAMPLE_DIR = Path("datasets/MNIST-5k")


def get_data_hint(data_dir: str | Path) -> str:
    """How to get data for ``data_dir``: the offline sample by name where it is already
    here (after `make demo` a bare command looks in datasets/MNIST, which it never wrote)."""
    here = all(_present(SAMPLE_DIR, stem) for stem in SPLIT_FILES["train"])
    if here and Path(data_dir) != SAMPLE_DIR:
        return (
            f"the offline sample is in {SAMPLE_DIR}: pass --data-dir {SAMPLE_DIR} "
            "(or run ./download_mnist.sh to fetch all of MNIST)"
        )
    return GET_DATA_HINT


@dataclass(frozen=True)
class Split:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of one dataset split."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _present(data_dir: str | Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``data_dir``, whichever is there first; None if neither."""
    return next((p for p in (Path(data_dir) / stem, Path(data_dir) / f"{stem}.gz") if p.is_file()), None)


def find_file(data_dir: Path, stem: str) -> Path:
    """Return ``stem`` or ``stem.gz`` in ``data_dir``; raise naming both if neither exists."""
    path = _present(data_dir, stem)
    if path is None:
        raise IdxError(f"{Path(data_dir) / stem}(.gz): file not found; {get_data_hint(data_dir)}")
    return path


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except PermissionError as e:
        raise IdxError(f"{path}: cannot read it (permission denied); check the file's permissions") from e
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise IdxError(f"{path}: cannot read ({e}); the file is damaged, delete it and fetch it again") from e


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read one unsigned-byte IDX array of ``ndim`` dimensions, validating header and size."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxError(f"{path}: file is {len(data)} bytes, too short for an IDX header")
    zero1, zero2, dtype, file_ndim = data[0], data[1], data[2], data[3]
    if zero1 != 0 or zero2 != 0 or dtype != _UBYTE:
        raise IdxError(
            f"{path}: bad magic number 0x{data[:4].hex()} (expected 0x0000080{ndim}); "
            "this is not an unsigned-byte IDX file"
        )
    if file_ndim != ndim:
        raise IdxError(f"{path}: has {file_ndim} dimensions, expected {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path}: truncated header ({len(data)} bytes, need {header})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64))
    payload = len(data) - header
    if payload < expected:
        raise IdxError(
            f"{path}: truncated: header says {shape} = {expected} bytes, file holds {payload}; "
            "delete it and fetch it again"
        )
    if payload > expected:
        raise IdxError(f"{path}: {payload - expected} bytes of trailing garbage after the {shape} array")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_split(data_dir: Path, split: str) -> Split:
    """Load and cross-check the images and labels of ``split`` ('train' or 'test')."""
    image_stem, label_stem = SPLIT_FILES[split]
    image_path = find_file(data_dir, image_stem)
    label_path = find_file(data_dir, label_stem)
    images = read_idx(image_path, IMAGES_NDIM)
    labels = read_idx(label_path, LABELS_NDIM)
    if images.shape[1:] != (28, 28):
        raise IdxError(f"{image_path}: images are {images.shape[1:]}, expected (28, 28)")
    if images.shape[0] != labels.shape[0]:
        raise IdxError(
            f"{image_path} has {images.shape[0]} images but {label_path} has "
            f"{labels.shape[0]} labels; the two files do not belong together"
        )
    if images.shape[0] == 0:
        raise IdxError(f"{image_path}: holds no images")
    return Split(images=images, labels=labels)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as IDX (gzipped if ``path`` ends in .gz), atomically."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    atomic_write_bytes(Path(path), payload)
