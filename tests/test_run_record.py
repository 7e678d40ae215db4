"""A checkpoint folder belongs to one run: its record, what may resume it, and its lock."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import (
    ROOT,
    TINY_GAN_FLAGS,
    run_classifier,
    run_script,
    run_train,
    synthetic_digits,
    write_dataset,
)

from mnist_gan.runtime.errors import CheckpointError
from mnist_gan.runtime.lock import LOCK_NAME, FolderLock


def _train(data: Path, root: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_train(data, root, "--no-eval", *TINY_GAN_FLAGS, "--save-every", "2", *flags)


def _hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and its sha256: equal dicts mean a byte-identical tree."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 4-step tiny GAN run, and a second dataset of the same shape but other digits."""
    root = tmp_path_factory.mktemp("finished")
    x, y = synthetic_digits(200)
    tx, ty = synthetic_digits(50, seed=1)
    data = write_dataset(root / "data", x, y, tx, ty)
    other_x, other_y = synthetic_digits(200, seed=7)
    other = write_dataset(root / "other", other_x, other_y, tx, ty)
    result = _train(data, root / "run", "--steps", "4")
    assert result.returncode == 0, result.stderr[-3000:]
    return {"data": data, "other": other, "run": root / "run"}


def _copy(finished: dict[str, Path], tmp_path: Path) -> Path:
    shutil.copytree(finished["run"], tmp_path / "run")
    return tmp_path / "run"


def test_record_holds_step_and_data_fingerprint(finished: dict[str, Path]) -> None:
    saved = yaml.safe_load((finished["run"] / "ckpt" / "config-gan.yaml").read_text())
    assert saved["run"]["step"] == 4
    assert saved["run"]["data_fingerprint"].startswith("sha256:")
    assert saved["run"]["history"] == []
    assert "start_over" not in saved and "continue_with_changes" not in saved
    (log_dir,) = (finished["run"] / "logs").iterdir()
    assert yaml.safe_load((log_dir / "config-gan.yaml").read_text())["run"]["step"] == 0  # at its start


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--data", "other"], r"cannot be continued with this data or architecture \(data \S+data sha256:"),
        (["--gen-lr", "0.0004", "--seed", "3"], r"other settings \(seed 0 -> 3, gen_lr 0\.0008 -> 0\.0004\)"),
    ],
)
def test_other_run_refused_and_folder_left_byte_identical(
    finished: dict[str, Path], tmp_path: Path, flags: list[str], message: str
) -> None:
    run = _copy(finished, tmp_path)
    before = _hashes(run)
    data = finished["other"] if flags[:2] == ["--data", "other"] else finished["data"]
    result = _train(data, run, "--steps", "8", *[f for f in flags if f not in ("--data", "other")])
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert re.search(message, line), line
    assert "--save-dir" in line and "--start-over" in line
    assert ("--continue-with-changes" in line) == ("gen_lr" in line)
    assert line == result.stderr.strip().splitlines()[-1]  # nothing after the error
    assert _hashes(run) == before


def test_nothing_to_do_says_so_and_writes_nothing(finished: dict[str, Path], tmp_path: Path) -> None:
    run = _copy(finished, tmp_path)
    before = _hashes(run)
    result = _train(finished["data"], run, "--steps", "4", "--eval-every", "0", "--keep-checkpoints", "5")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "already at step 4; raise --steps to continue" in result.stdout
    assert _hashes(run) == before
    assert len(list((run / "logs").iterdir())) == 1  # no new log folder
    assert "resumed from" not in result.stdout


def test_a_longer_run_is_recorded_where_it_was_lengthened(finished: dict[str, Path], tmp_path: Path) -> None:
    run = _copy(finished, tmp_path)
    saved = yaml.safe_load((run / "ckpt" / "config-gan.yaml").read_text())
    assert saved["run"]["length"] == 4
    longer = _train(finished["data"], run, "--steps", "6")
    assert longer.returncode == 0, longer.stderr[-3000:]
    note = (
        "note: this run trained towards step 4, now towards 6 (--steps): from here its learning "
        "rates are those of a run of 6 steps; recorded in the folder's history"
    )
    assert note in longer.stdout and longer.stdout.index(note) < longer.stdout.index("resumed from step 4")
    saved = yaml.safe_load((run / "ckpt" / "config-gan.yaml").read_text())
    assert saved["steps"] == 6 and saved["run"]["length"] == 6
    (entry,) = saved["run"]["history"]
    assert entry["step"] == 4 and entry["length"] == [4, 6] and "continued_with" not in entry
    # The same length again (a resume after a crash, say): nothing more to record.
    (run / "ckpt" / "ckpt-6.index").unlink()
    again = _train(finished["data"], run, "--steps", "6")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "now towards" not in again.stdout
    assert len(yaml.safe_load((run / "ckpt" / "config-gan.yaml").read_text())["run"]["history"]) == 1


def test_a_record_from_before_lengths_were_kept_tells_its_length_by_its_steps(
    finished: dict[str, Path], tmp_path: Path
) -> None:
    run = _copy(finished, tmp_path)
    path = run / "ckpt" / "config-gan.yaml"
    saved = yaml.safe_load(path.read_text())
    del saved["run"]["length"]
    path.write_text(yaml.safe_dump(saved, sort_keys=False))
    both = _train(finished["data"], run, "--steps", "6", "--gen-lr", "0.0004", "--continue-with-changes")
    assert both.returncode == 0, both.stderr[-3000:]
    assert "now towards 6" in both.stdout
    (entry,) = yaml.safe_load(path.read_text())["run"]["history"]  # one entry for one continuation
    assert entry["continued_with"] == {"gen_lr": [0.0008, 0.0004]} and entry["length"] == [4, 6]


def test_live_lock_holder_refused_at_once(finished: dict[str, Path], tmp_path: Path) -> None:
    run = _copy(finished, tmp_path)
    # This test's own process stands for a run that is still going.
    lock = FolderLock(run / "ckpt")
    assert lock.acquire() is None
    before = _hashes(run)
    result = _train(finished["data"], run, "--steps", "6")
    assert result.returncode == 2
    assert f"is in use by another run (process {os.getpid()} on {socket.gethostname()}" in result.stderr
    assert _hashes(run) == before  # the holder's lock included
    lock.release()
    assert not (run / "ckpt" / LOCK_NAME).exists()


def test_continue_with_changes_then_start_over(finished: dict[str, Path], tmp_path: Path) -> None:
    run = _copy(finished, tmp_path)
    ckpt = run / "ckpt"
    (ckpt / "ckpt-9_temp").mkdir()  # what a killed save leaves
    (ckpt / ".config-gan.yaml.x1y2.tmp").write_text("half")
    go_on = _train(finished["data"], run, "--steps", "6", "--gen-lr", "0.0004", "--continue-with-changes")
    assert go_on.returncode == 0, go_on.stderr[-3000:]
    out = go_on.stdout
    assert "removed what an interrupted save left: ckpt-9_temp, .config-gan.yaml.x1y2.tmp" in out
    # Printed before training, not after it.
    assert out.index("note: continuing with gen_lr changed from 0.0008 to 0.0004") < out.index("checkpoint:")
    assert out.index("resumed from step 4") < out.index("checkpoint:")
    assert not (ckpt / "ckpt-9_temp").exists() and not list(ckpt.glob(".*.tmp"))
    saved = yaml.safe_load((ckpt / "config-gan.yaml").read_text())
    assert saved["gen_lr"] == 0.0004 and saved["run"]["step"] == 6
    assert saved["run"]["history"][0]["continued_with"] == {"gen_lr": [0.0008, 0.0004]}
    assert not (ckpt / LOCK_NAME).exists()

    fresh = _train(finished["other"], run, "--steps", "2", "--start-over")
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "starting over in" in fresh.stdout and "resumed from" not in fresh.stdout
    (aside,) = ckpt.glob("replaced-*")
    assert sorted(p.name for p in aside.glob("*.index")) == ["ckpt-2.index", "ckpt-4.index", "ckpt-6.index"]
    assert sorted(p.name for p in ckpt.glob("*.index")) == ["ckpt-2.index"]
    history = yaml.safe_load((ckpt / "config-gan.yaml").read_text())["run"]["history"]
    assert len(history) == 2 and "data" in history[1]["started_over"]


def test_lock_taken_over_from_a_dead_process(tmp_path: Path) -> None:
    probe = subprocess.Popen(["true"])
    probe.wait()  # its pid is now free
    (tmp_path / LOCK_NAME).write_text(
        yaml.safe_dump({"pid": probe.pid, "host": socket.gethostname(), "started": "20260101T000000Z"})
    )
    lock = FolderLock(tmp_path)
    note = lock.acquire()
    assert note is not None and f"took over the lock of process {probe.pid}" in note
    assert yaml.safe_load((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


_CONTENDER = """
import sys, time
from pathlib import Path
from mnist_gan.runtime.errors import CheckpointError
from mnist_gan.runtime.lock import FolderLock
folder, me = Path(sys.argv[1]), sys.argv[2]
(folder.parent / f"ready-{me}").touch()
while not (folder.parent / "go").exists():
    time.sleep(0.001)
lock = FolderLock(folder)
try:
    lock.acquire()
    result = "won"
except CheckpointError as e:
    result = "refused: " + str(e)
# Whole or not at all: the test reads a result once its name appears (written in place, an
# empty file read too soon failed a run of the suite).
(folder.parent / f".result-{me}").write_text(result)
(folder.parent / f".result-{me}").rename(folder.parent / f"result-{me}")
while not (folder.parent / "done").exists():  # hold it until every contender has tried
    time.sleep(0.01)
lock.release()
"""


def test_a_dead_holders_lock_goes_to_one_of_several_runs_started_at_once(tmp_path: Path) -> None:
    # Read, check, unlink and create left gaps: two of four runs restarted together after a
    # kill -9 could both take the lock over (about one trial in three before the kernel lock).
    probe = subprocess.Popen(["true"])
    probe.wait()
    stale = yaml.safe_dump({"pid": probe.pid, "host": socket.gethostname(), "started": "20260101T000000Z"})
    for trial in range(8):
        root = tmp_path / str(trial)
        (root / "ckpt").mkdir(parents=True)
        (root / "ckpt" / LOCK_NAME).write_text(stale)
        runs = [
            subprocess.Popen([sys.executable, "-c", _CONTENDER, str(root / "ckpt"), str(i)], cwd=ROOT)
            for i in range(4)
        ]
        while len(list(root.glob("ready-*"))) < 4:
            assert all(r.poll() is None for r in runs), "a contender died before the start"
            time.sleep(0.01)
        (root / "go").touch()
        while len(list(root.glob("result-*"))) < 4:
            assert all(r.poll() is None for r in runs), "a contender died before its result"
            time.sleep(0.01)
        results = [(root / f"result-{i}").read_text() for i in range(4)]
        (root / "done").touch()
        assert all(r.wait(timeout=30) == 0 for r in runs)
        winners = [r for r in results if r == "won"]
        assert len(winners) == 1, (trial, results)
        assert all("in use by another run" in r for r in results if r != "won")
        assert not (root / "ckpt" / LOCK_NAME).exists()  # the winner released it


def test_a_run_refused_during_a_takeover_names_the_run_taking_it(tmp_path: Path) -> None:
    import fcntl
    import threading

    path = tmp_path / LOCK_NAME
    path.write_text("")  # what a reader may see while the new holder rewrites the file
    taking = os.open(path, os.O_RDWR)
    fcntl.flock(taking, fcntl.LOCK_EX)
    me = yaml.safe_dump({"pid": os.getpid(), "host": socket.gethostname(), "started": "now"})
    threading.Timer(0.2, lambda: path.write_text(me)).start()
    try:
        with pytest.raises(CheckpointError, match=rf"in use by another run \(process {os.getpid()} on"):
            FolderLock(tmp_path).acquire()
    finally:
        os.close(taking)


def test_a_takeover_cut_short_leaves_no_lock_naming_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from mnist_gan.runtime import lock as lock_module

    probe = subprocess.Popen(["true"])
    probe.wait()
    (tmp_path / LOCK_NAME).write_text(
        yaml.safe_dump({"pid": probe.pid, "host": socket.gethostname(), "started": "20260101T000000Z"})
    )

    def full_disk(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lock_module.os, "pwrite", full_disk)
    with pytest.raises(OSError, match="No space left"):
        FolderLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # not a file keeping every later run out
    monkeypatch.undo()
    lock = FolderLock(tmp_path)
    assert lock.acquire() is None
    lock.release()


def test_without_kernel_locks_the_process_id_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import fcntl

    def unsupported(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")  # as some network file systems say

    monkeypatch.setattr(fcntl, "flock", unsupported)
    first = FolderLock(tmp_path)
    assert first.acquire() is None
    with pytest.raises(CheckpointError, match=rf"in use by another run \(process {os.getpid()} on"):
        FolderLock(tmp_path).acquire()  # alive: refused
    first.release()
    probe = subprocess.Popen(["true"])
    probe.wait()
    (tmp_path / LOCK_NAME).write_text(
        yaml.safe_dump({"pid": probe.pid, "host": socket.gethostname(), "started": "20260101T000000Z"})
    )
    lock = FolderLock(tmp_path)
    assert "took over the lock of process" in (lock.acquire() or "")  # gone: taken over
    lock.release()


def test_another_users_lock_is_refused_with_its_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_gan.runtime import lock as lock_module

    (tmp_path / LOCK_NAME).write_text(
        yaml.safe_dump({"pid": 1, "host": socket.gethostname(), "started": "20260101T000000Z"})
    )

    real_open = os.open

    def not_ours(path: str, flags: int, *args: int, **kwargs: int) -> int:
        if str(path).endswith(LOCK_NAME):  # the lock file alone: its temp files still open
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(lock_module.os, "open", not_ours)
    with pytest.raises(CheckpointError, match=r"in use by another run \(process 1 on"):
        FolderLock(tmp_path).acquire()


def test_lock_of_another_host_is_never_taken_over(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text(
        yaml.safe_dump({"pid": 1, "host": "elsewhere.example", "started": "20260101T000000Z"})
    )
    with pytest.raises(CheckpointError, match=r"in use by another run \(process 1 on elsewhere\.example"):
        FolderLock(tmp_path).acquire()
    assert "elsewhere.example" in (tmp_path / LOCK_NAME).read_text()


def test_two_locks_on_one_folder(tmp_path: Path) -> None:
    first, second = FolderLock(tmp_path), FolderLock(tmp_path)
    first.acquire()
    with pytest.raises(CheckpointError, match="in use by another run"):
        second.acquire()
    second.release()  # not its lock: must not remove it
    assert (tmp_path / LOCK_NAME).exists()
    first.release()
    assert second.acquire() is None
    second.release()


def test_the_runs_data_comes_from_its_record_or_says_where_it_was_named(tmp_path: Path) -> None:
    from mnist_gan.configs import ClassifierConfig
    from mnist_gan.runtime import config
    from mnist_gan.runtime.errors import ConfigError, DataError
    from mnist_gan.training.run_folder import with_the_runs_data

    save, data = tmp_path / "cls", tmp_path / "data"
    save.mkdir()
    data.mkdir()
    cfg = config.defaults(ClassifierConfig).replace(save_dir=str(save))
    assert with_the_runs_data(cfg, (), "datasets/MNIST").data_dir == "datasets/MNIST"  # a new run
    (save / "config-cls.yaml").write_text(f"data_dir: {data}\ntest_fraction: 0.1\n")
    resumed = with_the_runs_data(cfg, (), "datasets/MNIST")
    assert resumed.data_dir == str(data) and resumed.test_fraction == 0.1
    # The default's value given on the command line is given: kept, so the resume refuses it.
    assert with_the_runs_data(cfg, {"test_fraction"}, "datasets/MNIST").test_fraction == 0.2
    # Another folder: a copy of the run's data moved there matches its record only if split as
    # it was (it was split by the default, and refused as other data); other data is refused
    # by its images' fingerprint whatever its split.
    mine = with_the_runs_data(cfg.replace(data_dir="mine"), (), "datasets/MNIST")
    assert (mine.data_dir, mine.test_fraction) == ("mine", 0.1)
    # ... only what applies to the folder named: class names given for IDX files are not an
    # image folder's (which would be refused as "--class-names is for IDX files", a flag
    # never given, not as other data), and a split is not IDX files'.
    write_dataset(tmp_path / "idx", *synthetic_digits(20), *synthetic_digits(10))
    (save / "config-cls.yaml").write_text(f"data_dir: {data}\ntest_fraction: 0.1\nclass_names: a,b\n")
    images = with_the_runs_data(cfg.replace(data_dir="mine"), (), "datasets/MNIST")
    assert (images.test_fraction, images.class_names) == (0.1, "")
    idx = with_the_runs_data(cfg.replace(data_dir=str(tmp_path / "idx")), (), "datasets/MNIST")
    assert (idx.test_fraction, idx.class_names) == (0.2, "a,b")
    (save / "config-cls.yaml").write_text(f"data_dir: {data}\ntest_fraction: 0.1\n")
    # The run's own folder named again (any spelling of it): its split too, not the default's,
    # which would be refused as other data with no word of the flag that continues it.
    named = with_the_runs_data(cfg.replace(data_dir=f"{data}/."), (), "datasets/MNIST")
    assert (named.data_dir, named.test_fraction) == (f"{data}/.", 0.1)
    split_given = with_the_runs_data(cfg.replace(data_dir=str(data)), {"test_fraction"}, "datasets/MNIST")
    assert split_given.test_fraction == 0.2
    # Starting over replaces the run there: nothing of its record is carried.
    assert with_the_runs_data(cfg.replace(data_dir=str(data), start_over=True), (), "x").test_fraction == 0.2
    data.rmdir()
    with pytest.raises(
        DataError,
        match=r"the data this run trained on \(named in .*cls.yaml\) is not there \(moved\); pass --data-dir",
    ):
        with_the_runs_data(cfg, (), "datasets/MNIST")
    (save / "config-cls.yaml").write_text("data_dir: [a, b]\n")  # a damaged record: one error line
    with pytest.raises(ConfigError, match=r"config-cls.yaml: 'data_dir' must be str"):
        with_the_runs_data(cfg, (), "datasets/MNIST")


def test_a_run_on_other_data_is_known_before_its_classifier_is_loaded(tmp_path: Path) -> None:
    # A GAN pointed at other data in a run's folder was refused for its classifier's classes
    # first, and the classifier command it suggested led into the folder's refusal after it.
    from mnist_gan.configs import GanConfig
    from mnist_gan.runtime import config, record

    cfg = config.defaults(GanConfig).replace(save_dir=str(tmp_path), data_dir="mine")
    digits = [str(i) for i in range(10)]
    assert not record.other_data(cfg, tmp_path, "sha256:a", digits)  # no record: a new run
    (tmp_path / "config-gan.yaml").write_text(
        f"data_dir: mine\nrun:\n  data_fingerprint: sha256:a\n  classes: {digits}\n"
    )
    assert not record.other_data(cfg, tmp_path, "sha256:a", digits)  # the same data
    assert record.other_data(cfg, tmp_path, "sha256:b", digits)
    assert record.other_data(cfg, tmp_path, "sha256:a", list("abcdefghij"))
    assert not record.other_data(cfg.replace(start_over=True), tmp_path, "sha256:b", digits)


def test_a_moved_image_folder_named_anew_resumes_with_the_runs_split(tmp_path: Path) -> None:
    # Split by the default fraction, not the run's, its images matched no record: the resume
    # was refused as other data, and no flag it printed continued it.
    from PIL import Image

    x, y = synthetic_digits(60)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        (tmp_path / "digits" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "digits" / str(label) / f"{i}.png")
    flags = ["--epochs", "1", "--batch-size", "10", "--width", "4", "--feature-dim", "8"]
    first = run_classifier(tmp_path / "digits", tmp_path, "--test-fraction", "0.3", *flags)
    assert first.returncode == 0, first.stderr[-2000:]
    (tmp_path / "digits").rename(tmp_path / "moved")
    again = run_classifier(tmp_path / "moved", tmp_path, *flags[:1], "2", *flags[2:])
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resumed from step" in again.stdout
    saved = yaml.safe_load((tmp_path / "classifier" / "config-cls.yaml").read_text())
    assert (saved["data_dir"], saved["test_fraction"]) == (str(tmp_path / "moved"), 0.3)


def test_a_resumed_gan_scores_with_its_runs_classifier(tmp_path: Path) -> None:
    from mnist_gan.configs import GanConfig
    from mnist_gan.runtime import config
    from mnist_gan.runtime.errors import DataError
    from mnist_gan.training.run_folder import with_the_runs_classifier

    save, theirs = tmp_path / "gan", tmp_path / "their-classifier"
    save.mkdir()
    theirs.mkdir()
    cfg = config.defaults(GanConfig).replace(save_dir=str(save))
    assert with_the_runs_classifier(cfg, ()).classifier_dir == cfg.classifier_dir  # a new run: the default
    (save / "config-gan.yaml").write_text(f"classifier_dir: {theirs}\n")
    assert with_the_runs_classifier(cfg, ()).classifier_dir == str(theirs)  # not the default's, silently
    given = cfg.replace(classifier_dir="mine")
    assert with_the_runs_classifier(given, {"classifier_dir"}).classifier_dir == "mine"  # one given is used
    default_given = with_the_runs_classifier(cfg, {"classifier_dir"})  # even the default's
    assert default_given.classifier_dir == cfg.classifier_dir
    theirs.rmdir()
    unscored = cfg.replace(eval=False)
    # Nothing loaded, so none need be there; but its record keeps the run's, not the default.
    assert with_the_runs_classifier(unscored, ()).classifier_dir == str(theirs)
    assert with_the_runs_classifier(unscored, {"classifier_dir"}) == unscored
    with pytest.raises(
        DataError,
        match=r"the classifier this run scored with \(named in .*gan.yaml\).*--classifier-dir, or train "
        r"without in-training scores \(--no-eval\)$",
    ):
        with_the_runs_classifier(cfg, ())


def test_a_best_fid_read_by_another_classifier_does_not_compare() -> None:
    import numpy as np

    from mnist_gan.eval import features, generator_scorer
    from mnist_gan.models import networks

    def scoring(seed: int, rng_state: int = 0, test_digit: float = 0.0) -> str:
        import keras

        keras.utils.set_random_seed(seed)
        classifier = networks.build_classifier(4, 8, 0.5)
        # Dropout's random-number state differs between processes (and loads of one checkpoint):
        # it is no weight, and must not make one classifier look like another.
        for variable in classifier.variables:
            if "seed_generator" in variable.path:
                variable.assign(variable + rng_state)
        extractor = networks.feature_extractor(classifier)
        real = np.zeros((20, 28, 28, 1), np.float32)
        test = real.copy()
        test[0, 0, 0, 0] = test_digit
        scorer = generator_scorer.GeneratorScorer(
            features.ClassifierReader(extractor), test, (real, np.arange(20) % 10), 20, 4, 0
        )
        return scorer.scoring

    assert scoring(0) == scoring(0, rng_state=12345)
    assert scoring(0) != scoring(1)  # same sample size, another classifier's weights
    # Other test digits (a resumed run's test split changed; the record fingerprints the
    # training digits alone): its FIDs do not compare with the best's either.
    assert scoring(0) != scoring(0, test_digit=1.0)
    assert scoring(0).startswith("20 digits asked for the classes of as many real ones, classifier ")


def test_checkpoints_without_their_record_are_not_resumed_under_new_settings(
    finished: dict[str, Path], tmp_path: Path
) -> None:
    run = _copy(finished, tmp_path)
    (run / "ckpt" / "config-gan.yaml").unlink()
    before = _hashes(run)
    refused = _train(finished["data"], run, "--steps", "6", "--gen-lr", "0.0004", "--seed", "7")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith(
        f"error: {run / 'ckpt'} holds checkpoints (ckpt-2, ckpt-4) but no config-gan.yaml"
    )
    assert "--continue-with-changes to continue them with these settings" in refused.stderr
    assert _hashes(run) == before
    go_on = _train(finished["data"], run, "--steps", "6", "--continue-with-changes")
    assert go_on.returncode == 0, go_on.stderr[-3000:]
    assert "note: continuing checkpoints that had no config-gan.yaml" in go_on.stdout
    assert "resumed from step 4" in go_on.stdout
    history = yaml.safe_load((run / "ckpt" / "config-gan.yaml").read_text())["run"]["history"]
    assert history[0]["continued_unrecorded"] == "ckpt-4"


def test_a_record_whose_checkpoints_are_gone_is_not_a_new_run(
    finished: dict[str, Path], tmp_path: Path
) -> None:
    run = _copy(finished, tmp_path)
    for path in (run / "ckpt").glob("ckpt-*"):
        path.unlink()
    (run / "ckpt" / "checkpoint").unlink()
    refused = _train(finished["data"], run, "--steps", "6")
    assert refused.returncode == 2
    assert "config-gan.yaml records a run at step 4, but no checkpoint of it is left" in refused.stderr
    fresh = _train(finished["data"], run, "--steps", "2", "--start-over")
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    history = yaml.safe_load((run / "ckpt" / "config-gan.yaml").read_text())["run"]["history"]
    assert history[-1]["started_over"] == "no checkpoint of step 4 left"


def test_a_change_is_recorded_at_the_step_actually_resumed(finished: dict[str, Path], tmp_path: Path) -> None:
    run = _copy(finished, tmp_path)
    (run / "ckpt" / "ckpt-4.index").unlink()  # the record still says step 4
    go_on = _train(finished["data"], run, "--steps", "6", "--gen-lr", "0.0004", "--continue-with-changes")
    assert go_on.returncode == 0, go_on.stderr[-3000:]
    assert "resumed from step 2" in go_on.stdout
    history = yaml.safe_load((run / "ckpt" / "config-gan.yaml").read_text())["run"]["history"]
    assert history[-1]["step"] == 2 and history[-1]["continued_with"] == {"gen_lr": [0.0008, 0.0004]}


def test_float16_cannot_continue_another_precisions_checkpoints() -> None:
    from mnist_gan.configs import GanConfig
    from mnist_gan.runtime import config, record

    saved = config.defaults(GanConfig).replace(mixed_precision="bfloat16")
    names = [str(d) for d in range(10)]
    run = {"data_fingerprint": "sha256:x", "classes": names}
    never, changeable = record.compare(
        saved.replace(mixed_precision="float16"), saved.to_dict(), run, "sha256:x", names
    )
    assert never == {"mixed_precision": ("bfloat16", "float16")} and changeable == {}
    never, changeable = record.compare(
        saved.replace(mixed_precision="off"), saved.to_dict(), run, "sha256:x", names
    )
    assert never == {} and changeable == {"mixed_precision": ("bfloat16", "off")}


def test_other_data_from_another_split_names_the_fraction_too() -> None:
    from mnist_gan.configs import GanConfig
    from mnist_gan.runtime import config, record

    now = config.defaults(GanConfig).replace(data_dir="images", test_fraction=0.5)
    saved = {**now.to_dict(), "test_fraction": 0.2}
    names = ["a", "b"]
    never, _ = record.compare(
        now, saved, {"data_fingerprint": "sha256:old", "classes": names}, "sha256:new", names
    )
    assert never == {"data": ("images sha256:old", "images sha256:new"), "test_fraction": (0.2, 0.5)}
    never, _ = record.compare(
        now,
        {**saved, "test_fraction": 0.5},
        {"data_fingerprint": "sha256:old", "classes": names},
        "sha256:new",
        names,
    )
    assert list(never) == ["data"]  # the same split of other images: the data alone


def test_a_class_name_holding_a_comma_is_quoted_in_the_data_line(capsys: pytest.CaptureFixture) -> None:
    import numpy as np

    from mnist_gan.data import idx, sources
    from mnist_gan.training.run import announce

    split = idx.Split(np.zeros((2, 28, 28), np.uint8), np.array([0, 1], np.uint8))
    announce(sources.Dataset(split, split, ["a, b", "c"], "image folder"))
    assert "2 classes: 'a, b', c" in capsys.readouterr().out


def test_a_folder_of_the_other_command_is_named_as_such(tmp_path: Path) -> None:
    # A GAN given its classifier's folder as --save-dir moved the classifier aside under
    # --start-over; evaluate.py given a classifier's folder said "config-gan.yaml is missing".
    from mnist_gan import generation
    from mnist_gan.configs import ClassifierConfig, GanConfig
    from mnist_gan.eval import features
    from mnist_gan.runtime import config
    from mnist_gan.training.run_folder import _refuse_the_other_commands

    classifier_run, gan_run = tmp_path / "classifier", tmp_path / "gan"
    for folder, kind in ((classifier_run, ClassifierConfig), (gan_run, GanConfig)):
        folder.mkdir()
        (folder / kind.SAVED_AS).write_text("seed: 0\n")
    gan = config.defaults(GanConfig).replace(save_dir=str(classifier_run), start_over=True)
    with pytest.raises(CheckpointError, match=r"classifier \(\./classifier\.py\) run, not this command's"):
        _refuse_the_other_commands(gan)
    classifier = config.defaults(ClassifierConfig).replace(save_dir=str(gan_run))
    with pytest.raises(CheckpointError, match=r"holds a GAN \(\./train\.py\) run"):
        _refuse_the_other_commands(classifier)
    _refuse_the_other_commands(gan.replace(save_dir=str(gan_run)))  # its own kind: on to the record
    _refuse_the_other_commands(gan.replace(save_dir=str(tmp_path / "new")))  # a new folder
    with pytest.raises(
        CheckpointError, match=r"not a GAN; point --checkpoint-dir at \./train\.py's --save-dir$"
    ):
        generation.load_generator(classifier_run)
    with pytest.raises(
        CheckpointError, match=r"not a classifier; point --classifier-dir at .*, or train without"
    ):
        features.load_classifier(gan_run, without="train without in-training scores (--no-eval)")


def test_train_refuses_its_classifiers_folder_even_to_start_over(tiny_dataset: Path, tmp_path: Path) -> None:
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "config-cls.yaml").write_text("seed: 0\n")
    (classifier / "ckpt-4.index").write_text("the classifier's")
    result = run_script(
        "train.py", "--data-dir", str(tiny_dataset), "--save-dir", str(classifier), "--log-dir",
        str(tmp_path / "logs"), "--no-eval", "--start-over", *TINY_GAN_FLAGS,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {classifier} holds a classifier (./classifier.py) run, not this command's; "
        "pass another --save-dir"
    )
    assert sorted(p.name for p in classifier.iterdir()) == [
        "ckpt-4.index",
        "config-cls.yaml",
    ]  # nothing moved
