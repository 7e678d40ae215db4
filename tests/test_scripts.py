"""Each front-end script answers --help with every option and its default."""

from __future__ import annotations

import pytest
from conftest import run_script

from mnist_gan import config


@pytest.mark.parametrize(
    ("script", "cls"),
    [
        ("classifier.py", config.ClassifierConfig),
        ("train.py", config.GanConfig),
        ("generate.py", config.GenerateConfig),
        ("evaluate.py", config.EvaluateConfig),
    ],
)
def test_help_shows_every_option_with_default(script: str, cls: type[config.Config]) -> None:
    result = run_script(script, "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for key, value in config.defaults(cls).to_dict().items():
        flag = "--" + key.replace("_", "-")
        assert flag in text, flag
        assert f"(default: {value})" in text, key
    assert "--config" in text


def test_download_script_help() -> None:
    result = run_script("bash", "download_mnist.sh", "--help", timeout=30)
    assert result.returncode == 0
    assert "--sample" in result.stdout and "MNIST_MIRRORS" in result.stdout


@pytest.mark.parametrize(
    "script",
    [
        "classifier.py",
        "train.py",
        "generate.py",
        "evaluate.py",
        "download_mnist.sh",
        "benchmarks/quality.py",
        "benchmarks/throughput.py",
    ],
)
def test_scripts_are_executable(script: str) -> None:
    from conftest import ROOT

    assert (ROOT / script).stat().st_mode & 0o111
