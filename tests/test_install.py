"""The project as a user gets it: a fresh terminal without the venv, and `pip install .`."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

COMMANDS = ("classifier", "train", "generate", "evaluate")


def _copy_project(dest: Path, *extra: str) -> Path:
    """The package (and ``extra`` top-level files) copied to ``dest``, so nothing is built in the clone."""
    shutil.copytree(ROOT / "mnist_gan", dest / "mnist_gan", ignore=shutil.ignore_patterns("__pycache__"))
    for name in extra:
        shutil.copy2(ROOT / name, dest / name)
    return dest


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MNIST_GAN_REEXEC")}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_python_without_tensorflow_prints_one_error_line(tmp_path: Path) -> None:
    project = _copy_project(tmp_path / "clone", "generate.py")
    # -S: no site-packages, as in a shell whose python3 has none of the requirements.
    result = _run([sys.executable, "-S", str(project / "generate.py"), "--help"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "tensorflow" in lines[0] and "make venv" in lines[0]
    assert result.stdout == ""


def test_script_reruns_itself_with_the_venv_beside_it(tmp_path: Path) -> None:
    project = _copy_project(tmp_path / "clone", "train.py")
    venv_python = project / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    # Stands in for `make venv`: an interpreter that has the requirements.
    venv_python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    venv_python.chmod(0o755)
    result = _run([sys.executable, "-S", str(project / "train.py"), "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0.1.0" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("broken", ["not executable", "a link to nothing"])
def test_a_venv_python_that_cannot_run_is_one_error_line(tmp_path: Path, broken: str) -> None:
    project = _copy_project(tmp_path / "clone", "train.py")
    venv_python = project / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    if broken == "not executable":  # as a .venv copied without its modes
        venv_python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        venv_python.chmod(0o644)
        why = "Permission denied"
    else:  # its interpreter removed or upgraded away: it was called a missing .venv
        venv_python.symlink_to(tmp_path / "gone" / "python3.11")
        why = "No such file or directory"
    result = _run([sys.executable, "-S", str(project / "train.py"), "--version"], tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    shown = venv_python.parent.resolve() / "python"
    said = f"error: cannot run {shown} ({why}); remove .venv and run 'make venv' again"
    assert result.stderr.startswith(said), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_pip_install_gives_console_scripts_and_defaults(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    pytest.importorskip("pip")
    source = _copy_project(tmp_path / "src", "pyproject.toml", "README.md", "requirements.txt")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path)
    # The requirements (and pip, setuptools) come from this interpreter's site-packages, so
    # nothing is downloaded; the project itself is installed into the new venv.
    paths = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib.stdout.strip(), "requirements.pth").write_text("\n".join(paths) + "\n")
    install = _run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", str(source)],
        tmp_path,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    shutil.rmtree(source)  # the installed copy must stand alone

    where = _run([str(python), "-c", "import mnist_gan.runtime.config as c; print(c.CONFIG_DIR)"], tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    for name in COMMANDS:
        command = str(venv / "bin" / f"mnist-gan-{name}")
        version = _run([command, "--version"], tmp_path)
        assert version.returncode == 0, version.stderr
        assert "0.1.0" in version.stdout
        help_text = _run([command, "--help"], tmp_path)
        assert help_text.returncode == 0, help_text.stderr
        assert "(default: checkpoints/" in " ".join(help_text.stdout.split()), name
