"""download_mnist.sh against local file:// mirrors: never the internet."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from conftest import run_script

NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, Path]:
    """A mirror folder with four small files and a manifest of their checksums."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    lines = []
    for i, name in enumerate(NAMES):
        payload = gzip.compress(bytes([i]) * (100 + i), mtime=0)
        (folder / name).write_bytes(payload)
        lines.append(f"{name} {hashlib.sha256(payload).hexdigest()}")
    manifest = tmp_path / "manifest.txt"
    manifest.write_text("# test files\n" + "\n".join(lines) + "\n")
    return folder, manifest


def _fetch(target: Path, mirrors: str, manifest: Path | None = None) -> tuple[int, str]:
    env = {"MNIST_MIRRORS": mirrors}
    if manifest is not None:
        env["MNIST_MANIFEST"] = str(manifest)
    result = run_script("bash", "download_mnist.sh", str(target), env=env, timeout=120)
    return result.returncode, result.stdout + result.stderr


def test_fetches_and_verifies(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    folder, manifest = mirror
    code, out = _fetch(tmp_path / "data", f"file://{folder}/", manifest)
    assert code == 0, out
    for name in NAMES:
        assert (tmp_path / "data" / name).read_bytes() == (folder / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(NAMES)  # no leftovers
    code, out = _fetch(tmp_path / "data", "file:///nonexistent/", manifest)
    assert code == 0 and out.count("checksum OK") == 4  # re-run skips verified files


def test_bad_checksum_fails_and_leaves_nothing(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    folder, _ = mirror  # the real MNIST checksums cannot match these bytes
    code, out = _fetch(tmp_path / "data", f"file://{folder}/")
    assert code != 0
    assert "train-images-idx3-ubyte.gz: no mirror served a file with SHA-256" in out
    assert "--sample" in out  # the way on without internet access
    assert not (tmp_path / "data").exists()  # no empty folder left behind


def test_falls_through_to_second_mirror(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    folder, manifest = mirror
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / NAMES[0]).write_bytes(b"corrupt")  # wrong bytes on the first mirror
    code, out = _fetch(tmp_path / "data", f"file://{partial}/ file://{folder}/", manifest)
    assert code == 0, out
    assert "checksum mismatch for train-images-idx3-ubyte.gz" in out
    assert "failed to fetch" in out  # the other three are missing on the first mirror
    for name in NAMES:
        assert (tmp_path / "data" / name).read_bytes() == (folder / name).read_bytes()


def test_bad_manifest_line_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "m.txt"
    manifest.write_text("../escape deadbeef\n")
    code, out = _fetch(tmp_path / "data", "file:///x/", manifest)
    assert code == 2 and "bad manifest line" in out


def test_unknown_option(tmp_path: Path) -> None:
    result = run_script("bash", "download_mnist.sh", "--bogus")
    assert result.returncode == 2 and "unknown option '--bogus'" in result.stderr
