"""classifier.py trains for real, saves what it says, resumes, and refuses bad input."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from conftest import printed, run_classifier, run_script

from mnist_gan.data import sources
from mnist_gan.data.pipeline import to_model_range
from mnist_gan.eval import features
from mnist_gan.eval.features import ClassifierReader
from mnist_gan.eval.metrics import accuracy

# 10 epochs over the 4,000-digit sample (~40 s on 2 cores) reach about 98 %; see README.
MIN_SAMPLE_ACCURACY = 0.96


def test_trains_to_stated_accuracy_on_real_digits(classifier_run: tuple[Path, str], sample_dir: Path) -> None:
    save, out = classifier_run
    printed_accuracy = float(printed(r"test accuracy: ([\d.]+)%", out)) / 100
    assert printed_accuracy >= MIN_SAMPLE_ACCURACY, out
    # The checkpoint on disk holds that model: reload it and score it again.
    model = features.load_classifier(save)
    _, test = sources.load(sample_dir).splits
    _, logits = ClassifierReader.of(model).features_and_logits(to_model_range(test.images).numpy())
    assert abs(accuracy(logits, test.labels) - printed_accuracy) < 1e-3


def test_saves_config_in_checkpoint_and_log_folders(classifier_run: tuple[Path, str]) -> None:
    save, out = classifier_run
    log_dir = Path(printed(r"logs: (\S+)", out))
    assert re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", log_dir.name), log_dir.name
    for folder in (save, log_dir):
        saved = yaml.safe_load((folder / "config-cls.yaml").read_text())
        assert saved["epochs"] == 10 and saved["save_dir"] == str(save)
    assert list(log_dir.glob("events.out.tfevents.*"))


def test_rerun_of_a_finished_run_does_nothing(classifier_run: tuple[Path, str], sample_dir: Path) -> None:
    save, _ = classifier_run
    before = {p: p.read_bytes() for p in save.iterdir() if p.is_file()}
    logs = sorted((save.parent / "logs").iterdir())
    result = run_classifier(sample_dir, save.parent, "--epochs", "10")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "already at step 310; raise --epochs to continue" in result.stdout
    assert {p: p.read_bytes() for p in save.iterdir() if p.is_file()} == before
    assert sorted((save.parent / "logs").iterdir()) == logs


def test_rerun_without_data_dir_takes_the_runs_data(classifier_run: tuple[Path, str], tmp_path: Path) -> None:
    # After make demo a bare ./classifier.py should find the sample it trained on, not look
    # for datasets/MNIST; a new folder still gets datasets/MNIST (and says it is missing).
    save, _ = classifier_run
    before = {p: p.read_bytes() for p in save.iterdir() if p.is_file()}
    logs = ["--log-dir", str(save.parent / "logs")]
    result = run_script("classifier.py", "--save-dir", str(save), *logs, "--epochs", "10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "already at step 310; raise --epochs to continue" in result.stdout
    assert {p: p.read_bytes() for p in save.iterdir() if p.is_file()} == before
    new = run_script("classifier.py", "--save-dir", str(tmp_path / "new"), *logs, cwd=tmp_path)
    assert new.returncode == 2 and "datasets/MNIST" in new.stderr


def test_checkpoint_of_other_architecture_refused(classifier_run: tuple[Path, str], sample_dir: Path) -> None:
    save, _ = classifier_run
    result = run_script(
        "classifier.py", "--data-dir", str(sample_dir), "--save-dir", str(save), "--width", "16"
    )
    assert result.returncode == 2
    assert "cannot be continued with this data or architecture (width 32 -> 16)" in result.stderr


def test_two_cpu_replicas(tiny_dataset: Path, tmp_path: Path) -> None:
    result = run_classifier(
        tiny_dataset, tmp_path, "--epochs", "1", "--batch-size", "32", "--cpu-replicas", "2"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MirroredStrategy, 2 replicas" in result.stdout
    assert (tmp_path / "classifier" / "ckpt-6.index").is_file()


def test_indivisible_batch_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    result = run_classifier(tiny_dataset, tmp_path, "--batch-size", "33", "--cpu-replicas", "2")
    assert result.returncode == 2
    assert "batch size 33 does not divide by the 2 replicas" in result.stderr
    assert result.stdout == ""  # the error line alone, not after the strategy's line
    assert not (tmp_path / "classifier").exists()


def test_missing_dataset(tmp_path: Path) -> None:
    result = run_script(
        "classifier.py", "--data-dir", str(tmp_path / "none"), "--save-dir", str(tmp_path / "c")
    )
    assert result.returncode == 2
    assert "train-images-idx3-ubyte(.gz): file not found" in result.stderr
    assert "download_mnist.sh" in result.stderr
    assert "Traceback" not in result.stderr
