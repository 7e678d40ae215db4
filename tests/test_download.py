"""download_mnist.sh against local file:// mirrors: never the internet."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_script

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
    # no leftovers; the class names (MNIST's digits by default) beside the files
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted([*NAMES, "classes.txt"])
    assert (tmp_path / "data" / "classes.txt").read_text() == "".join(f"{d}\n" for d in range(10))
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
    assert "unknown option '--bogus' (see download_mnist.sh --help)" in _refused("--bogus")


def test_mirror_without_its_slash_refused(tmp_path: Path) -> None:
    out = _refused(str(tmp_path / "data"), env={"MNIST_MIRRORS": "file:///x/mirror"})
    assert "'file:///x/mirror' is not a URL ending with '/'" in out
    assert "names no mirror" in _refused(str(tmp_path / "data"), env={"MNIST_MIRRORS": "  "})
    assert not (tmp_path / "data").exists()


FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]
FASHION_CLASSES += ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
KMNIST_CLASSES = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
# Where Debian's dataset-fashion-mnist installs the real Fashion-MNIST.
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = run_script("bash", "download_mnist.sh", *args, env=env, timeout=120)
    return result.returncode, result.stdout + result.stderr


def _refused(*args: str, env: dict[str, str] | None = None) -> str:
    """The error line of a refused run: the only output, exit status 2."""
    result = run_script("bash", "download_mnist.sh", *args, env=env, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "", result.stdout
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


def _contents(i: int) -> bytes:
    """The (IDX-like) bytes of the i-th small test file."""
    return bytes([i]) * (100 + i)


@pytest.fixture
def regzipped(tmp_path: Path) -> tuple[Path, Path]:
    """A local copy whose files were gzipped again (other bytes, the same content), and a
    manifest of 'name sha256 content-sha256' lines for the original files."""
    folder = tmp_path / "copy"
    folder.mkdir()
    lines = []
    for i, name in enumerate(NAMES):
        original = gzip.compress(_contents(i), mtime=0)
        again = gzip.compress(_contents(i), compresslevel=1, mtime=12345)
        assert again != original
        (folder / name).write_bytes(again)
        content = hashlib.sha256(_contents(i)).hexdigest()
        lines.append(f"{name} {hashlib.sha256(original).hexdigest()} {content}")
    manifest = tmp_path / "content-manifest.txt"
    manifest.write_text("\n".join(lines) + "\n")
    return folder, manifest


def test_dataset_mirror_mismatch_names_the_file(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    folder, _ = mirror  # files that are not Fashion-MNIST's
    env = {"MNIST_MIRRORS": f"file://{folder}/"}
    code, out = _run("--dataset", "fashion-mnist", str(tmp_path / "data"), env=env)
    assert code == 1
    assert "train-images-idx3-ubyte.gz: no mirror served a file with SHA-256 3aede38d" in out
    assert "--from /usr/share/datasets/fashion-mnist" in out  # the offline route
    assert not (tmp_path / "data").exists()


def test_dataset_classes_written(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    folder, manifest = mirror
    env = {"MNIST_MIRRORS": f"file://{folder}/", "MNIST_MANIFEST": str(manifest)}
    code, out = _run("--dataset", "kmnist", str(tmp_path / "data"), env=env)
    assert code == 0, out
    assert (tmp_path / "data" / "classes.txt").read_text().splitlines() == KMNIST_CLASSES
    assert "KMNIST is in" in out


@pytest.mark.parametrize("existing", [False, True])
def test_from_refuses_other_files(tmp_path: Path, mirror: tuple[Path, Path], existing: bool) -> None:
    folder, _ = mirror  # neither the files nor their contents are Fashion-MNIST's
    target = tmp_path / "data"
    if existing:
        target.mkdir()
    out = _refused("--dataset", "fashion-mnist", "--from", str(folder), str(target))
    assert f"{folder}/train-images-idx3-ubyte.gz: not Fashion-MNIST's" in out
    assert "nothing copied" in out and "dataset-fashion-mnist" in out
    if existing:
        assert list(target.iterdir()) == []  # no copies, no temporary files, no classes.txt
    else:
        assert not target.exists()


def test_from_accepts_the_same_content(tmp_path: Path, regzipped: tuple[Path, Path]) -> None:
    folder, manifest = regzipped
    target = tmp_path / "data"
    env = {"MNIST_MANIFEST": str(manifest)}
    code, out = _run("--dataset", "fashion-mnist", "--from", str(folder), str(target), env=env)
    assert code == 0, out
    assert out.count("content checksum OK") == 4
    for name in NAMES:
        assert (target / name).read_bytes() == (folder / name).read_bytes()
    assert sorted(p.name for p in target.iterdir()) == sorted([*NAMES, "classes.txt"])
    assert (target / "classes.txt").read_text().splitlines() == FASHION_CLASSES


def test_from_accepts_decompressed_files(tmp_path: Path, regzipped: tuple[Path, Path]) -> None:
    _, manifest = regzipped
    folder = tmp_path / "raw"
    folder.mkdir()
    for i, name in enumerate(NAMES):
        (folder / name.removesuffix(".gz")).write_bytes(_contents(i))
    env = {"MNIST_MANIFEST": str(manifest)}
    code, out = _run("--from", str(folder), str(tmp_path / "data"), env=env)
    assert code == 0, out
    raw = [name.removesuffix(".gz") for name in NAMES]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted([*raw, "classes.txt"])


def test_from_copies_nothing_unless_all_verify(tmp_path: Path, regzipped: tuple[Path, Path]) -> None:
    folder, manifest = regzipped
    (folder / NAMES[3]).write_bytes(gzip.compress(b"other labels"))
    (tmp_path / "data").mkdir()
    env = {"MNIST_MANIFEST": str(manifest)}
    # Nothing said of the three that verified: the error line is all it prints.
    out = _refused("--from", str(folder), str(tmp_path / "data"), env=env)
    assert f"{folder}/t10k-labels-idx1-ubyte.gz: not MNIST's" in out
    assert list((tmp_path / "data").iterdir()) == []  # the three good ones not copied either


def test_from_missing_file_named(tmp_path: Path, regzipped: tuple[Path, Path]) -> None:
    folder, manifest = regzipped
    (folder / NAMES[1]).unlink()
    env = {"MNIST_MANIFEST": str(manifest)}
    out = _refused("--from", str(folder), str(tmp_path / "data"), env=env)
    assert f"{folder}: has no train-labels-idx1-ubyte.gz (nor train-labels-idx1-ubyte)" in out
    assert not (tmp_path / "data").exists()


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_from_debian_fashion_mnist(tmp_path: Path) -> None:
    code, out = _run("--dataset", "fashion-mnist", "--from", str(DEBIAN_FASHION), str(tmp_path / "F"))
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "F").iterdir()) == sorted([*NAMES, "classes.txt"])
    assert (tmp_path / "F" / "classes.txt").read_text().splitlines() == FASHION_CLASSES


def test_from_missing_folder(tmp_path: Path) -> None:
    assert "no such folder" in _refused("--from", str(tmp_path / "nowhere"), str(tmp_path / "data"))
    assert not (tmp_path / "data").exists()


def test_bad_content_checksum_in_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "m.txt"
    manifest.write_text(f"{NAMES[0]} {'0' * 64} not-a-checksum\n")
    code, out = _run(str(tmp_path / "data"), env={"MNIST_MANIFEST": str(manifest)})
    assert code == 2 and "bad manifest line" in out
    assert not (tmp_path / "data").exists()


def test_unknown_dataset(tmp_path: Path) -> None:
    out = _refused("--dataset", "cifar", str(tmp_path / "d"))
    assert out == "error: unknown dataset 'cifar'; choose mnist, fashion-mnist or kmnist\n"


def test_help_lists_the_datasets() -> None:
    result = run_script("bash", "download_mnist.sh", "--help", timeout=30)
    assert result.returncode == 0
    for word in ("--dataset", "fashion-mnist", "kmnist", "--from", "classes.txt", "MNIST_MANIFEST"):
        assert word in result.stdout, word
    assert "dataset-fashion-mnist" in result.stdout  # the offline route for Fashion-MNIST


def test_refuses_an_unverified_decompressed_file_before_fetching(
    tmp_path: Path, mirror: tuple[Path, Path]
) -> None:
    # It said "warning" after fetching and exited 0, and the tools then read the stale file.
    folder, manifest = mirror
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t10k-labels-idx1-ubyte").write_bytes(b"stale")  # read before the .gz
    code, out = _fetch(tmp_path / "data", f"file://{folder}/", manifest)
    assert code == 2 and len(out.splitlines()) == 1, out
    # This manifest knows no content checksums: a decompressed file cannot be verified at all.
    assert (
        out.startswith("error: ") and "t10k-labels-idx1-ubyte cannot be verified (no content checksum" in out
    )
    assert "the tools would read it before t10k-labels-idx1-ubyte.gz; delete it and run again" in out
    fetched = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert fetched == ["t10k-labels-idx1-ubyte"]  # nothing fetched
    # With content checksums: stale bytes are refused as not the dataset's, the right bytes kept.
    lines = []
    for line in manifest.read_text().splitlines()[1:]:
        name, sha = line.split()
        content = hashlib.sha256(gzip.decompress((folder / name).read_bytes())).hexdigest()
        lines.append(f"{name} {sha} {content}")
    with_content = tmp_path / "with-content.txt"
    with_content.write_text("\n".join(lines) + "\n")
    code, out = _fetch(tmp_path / "data", f"file://{folder}/", with_content)
    assert (
        code == 2
        and "t10k-labels-idx1-ubyte is not MNIST's t10k-labels-idx1-ubyte (its content checksum" in out
    )
    raw = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "data" / "t10k-labels-idx1-ubyte").write_bytes(raw)
    code, out = _fetch(tmp_path / "data", f"file://{folder}/", with_content)
    assert code == 0 and "t10k-labels-idx1-ubyte: present, content checksum OK" in out, out


def test_a_target_that_cannot_be_a_dataset_folder_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    env = {"MNIST_MIRRORS": "file:///x/"}
    assert "afile is a file, not a folder" in _refused(str(tmp_path / "afile"), env=env)
    assert "afile is a file, not a folder" in _refused("--sample", str(tmp_path / "afile"))
    assert "DIR is empty" in _refused("", env=env)  # not silently the default folder
    assert "names no mirror" in _refused(str(tmp_path / "d"), env={"MNIST_MIRRORS": ""})  # not the internet's
    (tmp_path / "d" / NAMES[1]).mkdir(parents=True)  # mv would put the file inside it
    assert f"d/{NAMES[1]} is a folder; move it away" in _refused(str(tmp_path / "d"), env=env)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [NAMES[1]]


def _reading(fifo: Path) -> bool:
    try:  # a fifo opens for writing without blocking only once a reader holds it
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        return False
    return True


def _stop_download(
    tmp_path: Path,
    manifest: Path,
    data: Path,
    env: dict[str, str] | None = None,
    *,
    mid_transfer: bool = True,
) -> int:
    """download_mnist.sh against a mirror that never answers (curl waits on a fifo), its
    process group stopped as Ctrl-C would once its temporary file exists and, if
    ``mid_transfer``, curl reads the mirror; its exit status."""
    slow = tmp_path / "slow"
    slow.mkdir()
    os.mkfifo(slow / NAMES[0])
    env_all = {
        **os.environ,
        **(env or {}),
        "MNIST_MIRRORS": f"file://{slow}/",
        "MNIST_MANIFEST": str(manifest),
    }
    run = subprocess.Popen(
        ["bash", str(ROOT / "download_mnist.sh"), str(data)],
        env=env_all, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    # Stopped only once what runs has exec'd: a signal between a fork and its exec is lost
    # to the child, which then runs on unstopped (bash's doing, not the script's).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if list(data.glob(".*.part")) and (not mid_transfer or _reading(slow / NAMES[0])):
            break
        time.sleep(0.01)
    assert list(data.glob(".*.part")), "the download never started"
    os.killpg(run.pid, signal.SIGTERM)
    try:
        run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    return run.returncode


def test_an_interrupted_download_leaves_no_empty_folder(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    _, manifest = mirror
    assert _stop_download(tmp_path, manifest, tmp_path / "data") != 0
    assert not (tmp_path / "data").exists()  # neither its temporary file nor the empty folder


def test_a_download_stopped_as_its_temporary_file_is_made_leaves_nothing(
    tmp_path: Path, mirror: tuple[Path, Path]
) -> None:
    # A mktemp that has made its file and not yet said its name: a stop there once left the
    # file, and so the folder, behind (the run knew its files by a list the name had not reached).
    real = shutil.which("mktemp")
    assert real is not None
    shims = tmp_path / "bin"
    shims.mkdir()
    # The real mktemp makes the file, then the shim becomes a sleep that never says its name.
    shim = f'#!/bin/sh\n"{real}" "$@" >/dev/null || exit 1\nexec sleep 60 </dev/null 2>/dev/null\n'
    (shims / "mktemp").write_text(shim)
    (shims / "mktemp").chmod(0o755)
    _, manifest = mirror
    env = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
    assert _stop_download(tmp_path, manifest, tmp_path / "data", env, mid_transfer=False) != 0
    assert not (tmp_path / "data").exists()
