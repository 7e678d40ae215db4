"""Nothing lost when training dies, exact resume, and every bad input refused in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, TINY_GAN_FLAGS, checkpoint_variables, printed, run_script, run_train

from mnist_gan import configs
from mnist_gan.runtime.errors import CheckpointError, Interrupted, TrainingDiverged
from mnist_gan.training.loop import Actions, Controller, Schedule


def _train(data: Path, root: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_train(data, root, "--no-eval", *TINY_GAN_FLAGS, *flags)


def _forget_newest(folder: Path, newest: int, previous: int) -> None:
    """What a kill -9 between two saves leaves: the newest checkpoint never happened."""
    for f in folder.glob(f"ckpt-{newest}.*"):
        f.unlink()
    state = folder / "checkpoint"
    lines = [line for line in state.read_text().splitlines() if f'ckpt-{newest}"' not in line]
    lines.insert(0, f'model_checkpoint_path: "ckpt-{previous}"')
    state.write_text("\n".join(lines) + "\n")


# Also with ADA's probability: adapted from the critic's signal, kept in the checkpoint.
ADAPTIVE_FLAGS = [
    "--critic-augment",
    "translation",
    "--critic-augment-p",
    "0.5",
    "--critic-augment-target",
    "0.3",
]


@pytest.mark.parametrize("extra", [[], ADAPTIVE_FLAGS], ids=["defaults", "adaptive"])
def test_resumed_run_matches_uninterrupted_bit_for_bit(
    tiny_dataset: Path, tmp_path: Path, extra: list
) -> None:
    flags = ["--steps", "6", "--save-every", "2", "--deterministic", *extra]
    straight = _train(tiny_dataset, tmp_path / "a", *flags)
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = _train(tiny_dataset, tmp_path / "b", *flags)
    assert first.returncode == 0, first.stderr[-3000:]
    _forget_newest(tmp_path / "b" / "ckpt", newest=6, previous=4)
    resumed = _train(tiny_dataset, tmp_path / "b", *flags)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from step 4" in resumed.stdout
    a = checkpoint_variables(tmp_path / "a" / "ckpt" / "ckpt-6")
    b = checkpoint_variables(tmp_path / "b" / "ckpt" / "ckpt-6")
    assert a.keys() == b.keys() and len(a) > 20
    assert any(name.startswith("augment_p") for name in a) == bool(extra)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_damaged_newest_checkpoint_falls_back(tiny_dataset: Path, tmp_path: Path) -> None:
    assert _train(tiny_dataset, tmp_path, "--steps", "4", "--save-every", "2").returncode == 0
    data_file = next((tmp_path / "ckpt").glob("ckpt-4.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:100])  # a write cut short
    flags = ["--steps", "8", "--save-every", "2", "--keep-checkpoints", "3"]
    result = _train(tiny_dataset, tmp_path, *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    warning = "ckpt-4 could not be read (damaged); resumed from the checkpoint before it"
    # Said before training starts, not at its end.
    assert out.index(warning) < out.index("resumed from step 2") < out.index("checkpoint:")
    # The damaged one left the rotation (moved aside); ckpt-4 was written anew; 3 are kept.
    kept = sorted(p.name for p in (tmp_path / "ckpt").glob("ckpt-*.index"))
    assert kept == ["ckpt-4.index", "ckpt-6.index", "ckpt-8.index"]
    (aside,) = (tmp_path / "ckpt").glob("damaged-*")
    assert sorted(p.name for p in aside.iterdir()) == [data_file.name, "ckpt-4.index"]


@pytest.mark.parametrize("damage", ["deleted", "garbage", "behind"])
def test_lost_checkpoint_list_resumes_instead_of_starting_over(
    tiny_dataset: Path, tmp_path: Path, damage: str
) -> None:
    assert _train(tiny_dataset, tmp_path, "--steps", "4", "--save-every", "2").returncode == 0
    state = tmp_path / "ckpt" / "checkpoint"
    before = {p.name: p.read_bytes() for p in (tmp_path / "ckpt").glob("ckpt-*")}
    if damage == "deleted":
        state.unlink()
    elif damage == "garbage":
        state.write_text("garbage{{\n")
    else:  # a crash between writing ckpt-4 and listing it
        state.write_text('model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')
    result = _train(tiny_dataset, tmp_path, "--steps", "6", "--save-every", "2", "--keep-checkpoints", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    lacking = "2, 4" if damage != "behind" else "4"
    assert f"did not list the checkpoints of step {lacking}" in result.stdout
    assert "resumed from step 4" in result.stdout
    assert "WARNING" not in result.stderr  # TensorFlow's parse warnings kept out
    # Nothing overwritten; the rotation sees the old ones again and keeps the newest two.
    kept = sorted(p.name for p in (tmp_path / "ckpt").glob("ckpt-*.index"))
    assert kept == ["ckpt-4.index", "ckpt-6.index"]
    assert all(
        (tmp_path / "ckpt" / name).read_bytes() == data for name, data in before.items() if "ckpt-4" in name
    )


def test_checkpoints_of_another_model_without_their_config_named_as_such(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    assert _train(tiny_dataset, tmp_path, "--steps", "2").returncode == 0
    (tmp_path / "ckpt" / "config-gan.yaml").unlink()  # nothing left to say what wrote them
    refused = _train(tiny_dataset, tmp_path, "--steps", "4", "--gen-width", "16")
    assert refused.returncode == 2 and "holds checkpoints (ckpt-2) but no config-gan.yaml" in refused.stderr
    # Told to continue them with these settings: they are another model's, and say so.
    result = _train(tiny_dataset, tmp_path, "--steps", "4", "--gen-width", "16", "--continue-with-changes")
    assert result.returncode == 2 and result.stdout == ""
    assert (
        "no checkpoint could be read" in result.stderr
        and "resume with the settings that wrote them" in result.stderr
    )
    assert "written by a different model or is damaged" in result.stderr  # the newest's own reason
    assert (tmp_path / "ckpt" / "ckpt-2.index").exists()  # nothing set aside or overwritten


def test_best_checkpoint_read_from_its_state_file_and_its_scoring(tmp_path: Path) -> None:
    from mnist_gan.runtime import checkpoints

    best = tmp_path / "best"
    best.mkdir()
    for name in ("ckpt-4.index", "ckpt-4.data-00000-of-00001", "ckpt-8.index"):
        (best / name).write_bytes(b"x")  # ckpt-8: a copy a crash cut short, its state file not yet written
    (best / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-4"\nall_model_checkpoint_paths: "ckpt-4"\n'
    )
    (tmp_path / "ckpt-8.index").write_bytes(b"x")
    assert checkpoints.latest(tmp_path, "best") == str(best / "ckpt-4")
    (best / "checkpoint").unlink()
    assert checkpoints.latest(tmp_path, "best") == str(best / "ckpt-8")  # no state file: what is there
    # A best kept before its scoring was recorded (or scored another way) does not compare.
    (best / "best.yaml").write_text("step: 4\nfid: 2.5\n")
    assert checkpoints.best_score(tmp_path, "1000 digits") is None
    (tmp_path / "ckpt-8.data-00000-of-00001").write_bytes(b"y")
    checkpoints.keep_best(tmp_path, str(tmp_path / "ckpt-8"), 8, 1.5, "1000 digits")
    assert checkpoints.best_score(tmp_path, "1000 digits") == 1.5
    assert checkpoints.best_score(tmp_path, "4000 digits") is None
    # Kept before the scoring named its test digits: still compared, the test digits taken as
    # unchanged; kept since, against other test digits: not compared.
    assert checkpoints.best_score(tmp_path, "1000 digits; test digits sha256:a") == 1.5
    assert checkpoints.best_score(tmp_path, "4000 digits; test digits sha256:a") is None
    checkpoints.keep_best(tmp_path, str(tmp_path / "ckpt-8"), 8, 1.5, "1000 digits; test digits sha256:a")
    assert checkpoints.best_score(tmp_path, "1000 digits; test digits sha256:a") == 1.5
    assert checkpoints.best_score(tmp_path, "1000 digits; test digits sha256:b") is None
    # Read another way, the best is replaced by the next score: a note says so and says how.
    ours = "1000 digits asked for the classes of as many real ones, classifier abc; test digits sha256:a"
    checkpoints.keep_best(tmp_path, str(tmp_path / "ckpt-8"), 8, 1.5, ours)
    assert checkpoints.best_read_otherwise(tmp_path, ours) is None
    assert checkpoints.best_read_otherwise(tmp_path / "elsewhere", ours) is None  # no best at all
    assert checkpoints.best_read_otherwise(tmp_path, "") is None  # --no-eval: no score replaces it
    retrained = checkpoints.best_read_otherwise(tmp_path, ours.replace("classifier abc", "classifier def"))
    assert retrained == (
        f"{best} holds step 8 (FID 1.5), read with another classifier than this run's scores: they "
        "do not compare, so this run's first score replaces it, better or not"
    )
    both = checkpoints.best_read_otherwise(
        tmp_path, ours.replace("1000", "4000").replace("sha256:a", "sha256:b")
    )
    assert both is not None and "read with another number of digits and other test digits than" in both
    before = ours.split(checkpoints.TEST_DIGITS)[0]  # kept before the scoring named the test digits
    checkpoints.keep_best(tmp_path, str(tmp_path / "ckpt-8"), 8, 1.5, before)
    assert checkpoints.best_read_otherwise(tmp_path, ours) is None  # compares, as best_score says
    checkpoints.keep_best(tmp_path, str(tmp_path / "ckpt-8"), 8, 1.5, "1000 digits")
    assert "read another way than this run's" in str(checkpoints.best_read_otherwise(tmp_path, ours))
    assert sorted(p.name for p in best.glob("ckpt-*")) == ["ckpt-8.data-00000-of-00001", "ckpt-8.index"]
    # A crash after the state file named a new best and before best.yaml did: the FID on
    # record is another checkpoint's, so none is trusted (the next score becomes the best).
    (best / "best.yaml").write_text('step: 4\nfid: 2.5\nscoring: "1000 digits"\n')
    assert checkpoints.best_score(tmp_path, "1000 digits") is None
    # Damaged: no FID, text for one, not YAML at all. Not trusted, and no traceback mid-run.
    for text in (
        'step: 8\nscoring: "1000 digits"\n',
        'step: 8\nfid: abc\nscoring: "1000 digits"\n',
        "step: [8\n",
    ):
        (best / "best.yaml").write_text(text)
        assert checkpoints.best_score(tmp_path, "1000 digits") is None


@pytest.mark.parametrize("crash", ["copying the data", "copying the index", "renaming the index"])
def test_best_checkpoint_replaced_under_its_own_name_is_never_a_mix_after_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    import shutil

    from mnist_gan.runtime import checkpoints

    def write(kind: str) -> None:
        for name in ("ckpt-8.index", "ckpt-8.data-00000-of-00001"):
            (tmp_path / name).write_text(f"{kind} {name}")

    write("old")
    checkpoints.keep_best(tmp_path, str(tmp_path / "ckpt-8"), 8, 2.0, "1000 digits")
    write("new")  # the same step scored again (a run resumed there): new files, the same name
    copy, rename = shutil.copyfile, Path.replace
    doomed = ".index" if crash.endswith("index") else ".data-00000-of-00001"

    def copy_or_crash(source: Path, target: Path) -> None:
        if crash.startswith("copying") and str(source).endswith(doomed):
            raise OSError("the machine went down")
        copy(source, target)

    def rename_or_crash(self: Path, target: Path) -> Path:
        if crash.startswith("renaming") and self.name.endswith(doomed + ".tmp"):
            raise OSError("the machine went down")
        return rename(self, target)

    monkeypatch.setattr(shutil, "copyfile", copy_or_crash)
    monkeypatch.setattr(Path, "replace", rename_or_crash)
    # A copy that fails (a full disk) is one error naming the checkpoint that is safe, its
    # half-made copies removed (a 70 MB one stayed); a crash past it is the OS's.
    failure = CheckpointError if crash.startswith("copying") else OSError
    with pytest.raises(failure) as info:
        checkpoints.keep_best(tmp_path, str(tmp_path / "ckpt-8"), 8, 1.5, "1000 digits")
    best = tmp_path / "best"
    if crash.startswith("copying"):  # before anything kept was touched: the old best, whole
        assert f"{tmp_path / 'ckpt-8'} itself is saved" in str(info.value)
        assert not list(best.glob(".*.tmp"))
        assert checkpoints.best_score(tmp_path, "1000 digits") == 2.0
        assert checkpoints.latest(tmp_path, "best") == str(best / "ckpt-8")
        assert {f.read_text() for f in best.glob("ckpt-8.*")} == {
            "old ckpt-8.index",
            "old ckpt-8.data-00000-of-00001",
        }
    else:  # mid-rename: no best rather than new data under the old index, vouched for
        assert checkpoints.best_score(tmp_path, "1000 digits") is None
        with pytest.raises(CheckpointError, match="no best checkpoint kept"):
            checkpoints.latest(tmp_path, "best")
    monkeypatch.undo()
    checkpoints.keep_best(tmp_path, str(tmp_path / "ckpt-8"), 8, 1.5, "1000 digits")
    assert checkpoints.best_score(tmp_path, "1000 digits") == 1.5
    assert sorted(f.read_text() for f in best.iterdir() if f.name.startswith("ckpt-8.")) == [
        "new ckpt-8.data-00000-of-00001",
        "new ckpt-8.index",
    ]
    assert not list(best.glob(".*.tmp"))  # nothing half made left behind


def test_sigterm_saves_and_says_how_to_resume(tiny_dataset: Path, tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    command = [
        sys.executable,
        "train.py",
        "--data-dir",
        str(tiny_dataset),
        "--save-dir",
        str(tmp_path / "ckpt"),
        "--log-dir",
        str(tmp_path / "logs"),
        "--no-eval",
        *TINY_GAN_FLAGS,
        "--steps",
        "100000",
        "--save-every",
        "100000",
    ]
    with log.open("w") as err:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        try:
            deadline = time.monotonic() + 120
            while " 2/100000" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert proc.poll() is None, log.read_text()[-2000:]
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = log.read_text()
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    step = int(printed(r"stopped at step (\d+); checkpoint saved", stderr))
    assert step >= 2 and (tmp_path / "ckpt" / f"ckpt-{step}.index").is_file()
    assert "run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    again = _train(tiny_dataset, tmp_path, "--steps", str(step + 2))
    assert again.returncode == 0 and f"resumed from step {step}" in again.stdout


class _FakeTrainer:
    """Runs no model: returns the metrics it is told to, with a real step counter."""

    def __init__(self, metrics: dict[str, float], poison: bool = False) -> None:
        self.step = tf.Variable(0, dtype=tf.int64)
        self.model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        self.models = [self.model]
        self.metrics, self.poison = metrics, poison

    def train(self, num_steps: tf.Tensor) -> dict[str, tf.Tensor]:
        self.step.assign_add(tf.cast(num_steps, tf.int64))
        if self.poison and int(self.step.numpy()) > 2:
            self.model.layers[0].kernel.assign(tf.fill([2, 1], np.nan))
        return {k: tf.constant(v) for k, v in self.metrics.items()}

    def settle(self) -> None:
        pass


def test_the_loop_settles_the_trainer_before_each_evaluation_and_checkpoint(tmp_path: Path) -> None:
    t = _FakeTrainer({"critic_loss": 1.0})
    calls: list[tuple[str, int]] = []
    t.settle = lambda: calls.append(("settle", int(t.step.numpy())))  # type: ignore[method-assign]
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    save = manager.save

    def saved(checkpoint_number: int) -> str:
        calls.append(("save", checkpoint_number))
        return save(checkpoint_number=checkpoint_number)

    def evaluate(step: int) -> dict[str, float]:
        calls.append(("evaluate", step))
        return {}

    manager.save = saved
    actions = Actions(evaluate=evaluate)
    schedule = Schedule(total_steps=6, steps_per_call=1, save_every=3, eval_every=2, images_per_step=1)
    Controller(t, schedule, manager, writer=None, actions=actions, progress=False).run()
    assert calls == [
        *(("settle", 2), ("evaluate", 2), ("settle", 3), ("save", 3), ("settle", 4), ("evaluate", 4)),
        *(("settle", 6), ("evaluate", 6), ("settle", 6), ("save", 6)),
    ]


def test_sigterm_during_a_save_lets_the_save_and_its_after_save_writes_finish(tmp_path: Path) -> None:
    # Cut between the checkpoint and the writes after it (the record, best/), the interrupt's
    # own save found the step saved and skipped them: the record named an older step.
    t = _FakeTrainer({"critic_loss": 1.0})
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    written: list[int] = []

    def record(step: int) -> None:
        if step == 4:
            os.kill(os.getpid(), signal.SIGTERM)  # as from outside, after the checkpoint
            time.sleep(0.05)  # Python would run the handler here, between two writes
        written.append(step)

    actions = Actions(after_save=[record])
    schedule = Schedule(total_steps=10, steps_per_call=2, save_every=2, eval_every=0, images_per_step=1)
    with pytest.raises(Interrupted):
        Controller(t, schedule, manager, writer=None, actions=actions, progress=False).run()
    assert written == [2, 4]
    assert manager.latest_checkpoint == str(tmp_path / "ckpt-4") and int(t.step.numpy()) == 4


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        (lambda: _FakeTrainer({"critic_loss": float("nan")}), r"step 2: critic_loss is nan"),
        (
            lambda: _FakeTrainer({"critic_loss": 1.0}, poison=True),
            r"step 4: weight \S*dense\S*/kernel holds NaN",
        ),
    ],
)
def test_nan_stops_and_keeps_the_last_good_checkpoint(trainer, message: str, tmp_path: Path) -> None:
    t = trainer()
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    schedule = Schedule(total_steps=10, steps_per_call=2, save_every=2, eval_every=0, images_per_step=1)
    with pytest.raises(TrainingDiverged, match=message) as info:
        Controller(t, schedule, manager, writer=None).run()
    kept = sorted(p.name for p in tmp_path.glob("ckpt-*.index"))
    assert kept == ([] if "critic_loss is nan" in message else ["ckpt-2.index"])
    assert "lower the learning rates" in str(info.value)


def _failing_save(manager: tf.train.CheckpointManager, at_step: int, error: Exception) -> None:
    """Make ``manager`` fail like a full disk while saving ``at_step``, leaving TF's partial folder."""
    save = manager.save

    def flaky(checkpoint_number: int) -> str:
        if checkpoint_number == at_step:
            (Path(manager.directory) / f"ckpt-{at_step}_temp").mkdir()
            (Path(manager.directory) / f"ckpt-{at_step}_temp" / "part-00000").write_bytes(b"x" * 100)
            raise error
        return save(checkpoint_number=checkpoint_number)

    manager.save = flaky


@pytest.mark.parametrize(
    "error",
    [
        tf.errors.ResourceExhaustedError(None, None, "ckpt-4_temp/part-00000; No space left on device"),
        PermissionError(13, "Permission denied"),
        # TensorFlow's message as a full disk wrote it: the reason past the first 200 characters.
        tf.errors.ResourceExhaustedError(
            None,
            None,
            "{{function_node __wrapped__SaveV2_dtypes_95_device_/job:localhost/replica:0/task:0"
            "/device:CPU:0}} " + "x" * 200 + " ckpt-4_temp/part-00000-of-00001.data-00000-of-00001."
            "tempstate10765996653276895519; No space left on device [Op:SaveV2]",
        ),
    ],
)
def test_failed_checkpoint_write_is_one_error_and_leaves_no_partial(tmp_path: Path, error: Exception) -> None:
    t = _FakeTrainer({"critic_loss": 1.0})
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    _failing_save(manager, 4, error)
    schedule = Schedule(total_steps=10, steps_per_call=2, save_every=2, eval_every=0, images_per_step=1)
    with pytest.raises(CheckpointError) as info:
        Controller(t, schedule, manager, writer=None).run()
    message = str(info.value)
    assert message.startswith(f"{tmp_path}/ckpt-4: cannot write the checkpoint (")
    assert "newest good checkpoint is" in message and message.endswith("run the same command again")
    assert "(No space left on device)" in message or "(Permission denied)" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint",
        "ckpt-2.data-00000-of-00001",
        "ckpt-2.index",
    ]
    assert checkpoint_variables(tmp_path / "ckpt-2")  # still reads


def test_full_disk_for_real(tmp_path: Path) -> None:
    """A 1 MB tmpfs (needs mount rights; skipped without them) filled by the second save."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        t = _FakeTrainer({"critic_loss": 1.0})
        big = tf.Variable(tf.zeros([100_000]))  # 400 kB per checkpoint: the third does not fit
        ckpt = tf.train.Checkpoint(step=t.step, model=t.model, big=big)
        manager = tf.train.CheckpointManager(ckpt, str(disk), 5)
        schedule = Schedule(total_steps=10, steps_per_call=2, save_every=2, eval_every=0, images_per_step=1)
        with pytest.raises(CheckpointError, match=r"cannot write the checkpoint") as info:
            Controller(t, schedule, manager, writer=None).run()
        assert str(info.value).startswith(f"{disk}/ckpt-")
        assert not list(disk.glob("*_temp*"))
        checkpoint_variables(Path(str(manager.latest_checkpoint)))  # the newest good one reads
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_second_sigterm_does_not_cut_the_interrupt_save(tmp_path: Path) -> None:
    t = _FakeTrainer({"critic_loss": 1.0})
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    train, save = t.train, manager.save

    def interrupted(num_steps: tf.Tensor) -> dict[str, tf.Tensor]:
        metrics = train(num_steps)
        if int(t.step.numpy()) >= 4:
            os.kill(os.getpid(), signal.SIGTERM)  # the scheduler's first signal
        return metrics

    def save_signalled(checkpoint_number: int) -> str:
        os.kill(os.getpid(), signal.SIGTERM)  # an impatient second one, mid-save
        return save(checkpoint_number=checkpoint_number)

    t.train = interrupted  # type: ignore[method-assign]
    manager.save = save_signalled
    schedule = Schedule(total_steps=100, steps_per_call=2, save_every=0, eval_every=0, images_per_step=1)
    with pytest.raises(KeyboardInterrupt):
        Controller(t, schedule, manager, writer=None).run()
    assert (tmp_path / "ckpt-4.index").is_file() and not list(tmp_path.glob("*_temp*"))
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


BAD_TRAIN_INPUTS = [
    (["--batch-size", "0"], "batch size must be >= 1, got 0"),
    (["--batch-size", "-4"], "batch size must be >= 1, got -4"),
    (["--batch-size", "15", "--cpu-replicas", "2"], "batch size 15 does not divide by the 2 replicas"),
    (
        ["--batch-size", "16", "--cpu-replicas", "2", "--critic-stddev-group", "3"],
        "the batch per replica (8) does not divide into groups of 3 (--critic-stddev-group)",
    ),
    (["--steps", "0"], "steps must be >= 1, got 0"),
    (["--batch-size", "sixteen"], "argument --batch-size: invalid int value: 'sixteen'"),
    (["--mixed-precision", "float8"], "argument --mixed-precision: invalid choice: 'float8'"),
    (["--bogus"], "unrecognized arguments: --bogus (see train.py --help)"),
    # A near miss is named; a prefix is not read as the flag it starts (no abbreviations).
    (["--stpes", "5"], "unrecognized arguments: --stpes 5; did you mean --steps? (see train.py --help)"),
    (["--step", "5"], "unrecognized arguments: --step 5; did you mean --steps?"),
    # A value out of range names the flag given, not the config key behind it.
    (["--gen-lr", "0"], "error: command line: --gen-lr must be > 0, got 0.0"),
]


@pytest.mark.parametrize(("flags", "message"), BAD_TRAIN_INPUTS)
def test_bad_flags_refused_in_one_line(
    tiny_dataset: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    result = _train(tiny_dataset, tmp_path, *flags)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    # The error line alone: not after the strategy, precision and data lines that a good
    # run prints (those found once the data is read, too).
    assert result.stdout == "", result.stdout
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").glob("ckpt-*"))


def test_bad_config_file_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    for text, message in [
        ("crit_step: 3\n", "unknown config key 'crit_step'; did you mean 'crit_steps'"),
        ("gp_weight: ten\n", "'gp_weight' must be float, got 'ten'"),
        ("seed: !!python/object/apply:os.getpid []\n", "not valid YAML"),
    ]:
        config_file = tmp_path / "my.yaml"
        config_file.write_text(text)
        result = _train(tiny_dataset, tmp_path, "--config", str(config_file))
        assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("blocked", ["--save-dir", "--log-dir"])
def test_save_or_log_dir_in_the_way_of_a_file(tiny_dataset: Path, tmp_path: Path, blocked: str) -> None:
    (tmp_path / "a-file").write_text("x")
    save = tmp_path / "a-file" / "ckpt" if blocked == "--save-dir" else tmp_path / "ckpt"
    log = tmp_path / "a-file" if blocked == "--log-dir" else tmp_path / "logs"
    folders = ["--save-dir", str(save), "--log-dir", str(log)]
    result = run_script(
        "train.py", "--data-dir", str(tiny_dataset), *folders, "--no-eval", *TINY_GAN_FLAGS, "--steps", "2"
    )
    assert result.returncode == 2
    if blocked == "--save-dir":
        assert "a-file/ckpt: cannot write there" in result.stderr
    else:  # refused before the save folder is made
        assert result.stdout == ""
        assert result.stderr == f"error: {log} is a file, not a folder; pass another --log-dir\n"
        assert not (tmp_path / "ckpt").exists()
    assert (tmp_path / "a-file").read_text() == "x"


def test_a_file_named_as_the_save_dir_is_named_as_a_file(tmp_path: Path) -> None:
    # It said "cannot write there (File exists)", where --log-dir and generate.py name the file.
    from mnist_gan.runtime import files
    from mnist_gan.runtime.errors import UserError

    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UserError, match=r"a-file is a file, not a folder; pass another --save-dir$"):
        files.check_writable(tmp_path / "a-file", "--save-dir")
    assert (tmp_path / "a-file").read_text() == "x"
    files.check_writable(tmp_path / "new" / "ckpt", "--save-dir")
    assert (tmp_path / "new" / "ckpt").is_dir() and not any((tmp_path / "new" / "ckpt").iterdir())


def test_corrupt_dataset_refused_by_the_scripts(tmp_path: Path, tiny_dataset: Path) -> None:
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in tiny_dataset.iterdir():
        (damaged / f.name).write_bytes(f.read_bytes())
    images = damaged / "train-images-idx3-ubyte.gz"
    import gzip

    images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:-50]))
    for script in ("classifier.py", "train.py"):
        result = run_script(script, "--data-dir", str(damaged), "--save-dir", str(tmp_path / script))
        assert result.returncode == 2
        assert "train-images-idx3-ubyte.gz: truncated" in result.stderr
        # One line of ours, the last (TensorFlow prints its own start-up lines before it).
        ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(ours) == 1 and result.stderr.strip().splitlines()[-1] == ours[0], result.stderr


def test_full_disk_while_writing_a_file_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mnist_gan.runtime import files

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*samples/step-2\.png'"):
        files.atomic_write_bytes(tmp_path / "samples" / "step-2.png", b"png")
    assert list((tmp_path / "samples").iterdir()) == []  # no temporary file left


@pytest.mark.parametrize("epochs", [1, 2])
def test_an_evaluation_an_interrupt_cut_short_is_run_on_resume(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epochs: int
) -> None:
    # Stopped during the last epoch's evaluation, the run saved that step and said "run the
    # same command again", which then had nothing to do: the last score was lost for good.
    # With one epoch that evaluation is the run's first.
    from mnist_gan import configs
    from mnist_gan.runtime import config, record
    from mnist_gan.training import classifier

    cfg = config.defaults(configs.ClassifierConfig).replace(
        data_dir=str(tiny_dataset),
        save_dir=str(tmp_path / "cls"),
        log_dir=str(tmp_path / "logs"),
        epochs=epochs,
        batch_size=50,
        width=8,
        feature_dim=16,
    )
    strategy = tf.distribute.get_strategy()
    accuracy, calls = classifier.metrics.accuracy, list[int]()

    def cut_at_the_end(logits: np.ndarray, labels: np.ndarray) -> float:
        calls.append(len(calls))
        if len(calls) == epochs:  # the last epoch's
            raise KeyboardInterrupt
        return accuracy(logits, labels)

    monkeypatch.setattr(classifier.metrics, "accuracy", cut_at_the_end)
    with pytest.raises(KeyboardInterrupt):
        classifier.train_classifier(cfg, strategy)
    monkeypatch.undo()
    end = 4 * epochs  # 200 digits in batches of 50
    run = record.read(cfg.save_dir, cfg.SAVED_AS)[1]  # type: ignore[index]
    assert (run["step"], run["evaluated"]) == (end, end - 4)  # saved, not evaluated
    saved = tmp_path / "cls" / f"ckpt-{end}.index"
    written = saved.stat().st_mtime_ns
    again = classifier.train_classifier(cfg, strategy)
    assert not again.nothing_to_do and "eval_test_accuracy" in again.scores
    assert record.read(cfg.save_dir, cfg.SAVED_AS)[1]["evaluated"] == end  # type: ignore[index]
    assert saved.stat().st_mtime_ns == written  # evaluated, not saved again
    assert classifier.train_classifier(cfg, strategy).nothing_to_do  # owed no more


def _logged_actions(calls: list[tuple[str, int]]) -> Actions:
    """Actions that only note, in ``calls``, each evaluation and each run of the after-save actions."""

    def evaluate(step: int) -> dict[str, float]:
        calls.append(("evaluate", step))
        return {}

    return Actions(evaluate=evaluate, after_save=[lambda step: calls.append(("after save", step))])


@pytest.mark.parametrize(
    ("scores", "said"), [({"fid": 1.0}, "step 4 is saved and scored"), ({}, "step 4 is saved")]
)
def test_a_finished_run_says_what_its_last_step_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scores: dict[str, float], said: str
) -> None:
    from mnist_gan.runtime import cli

    noted: list[str] = []
    monkeypatch.setattr(cli, "note_finished", noted.append)
    t = _FakeTrainer({"critic_loss": 1.0})
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    actions = Actions(evaluate=lambda step: scores)
    schedule = Schedule(total_steps=4, steps_per_call=2, save_every=0, eval_every=2, images_per_step=1)
    Controller(t, schedule, manager, writer=None, actions=actions, progress=False).run()
    assert noted == [said]


def test_a_signal_held_through_the_last_save_says_the_run_is_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The final save defers a signal until it is written: the run is then over (saved and
    # scored), and the interrupt's line must not say to resume; one cut into the last chunk
    # of training, before its evaluation, must (the evaluation is owed).
    from mnist_gan.runtime import cli

    noted: list[str] = []
    monkeypatch.setattr(cli, "note_finished", noted.append)
    t = _FakeTrainer({"critic_loss": 1.0})
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    save = manager.save

    def signalled(checkpoint_number: int) -> str:
        os.kill(os.getpid(), signal.SIGTERM)  # held until the save and its actions are done
        return save(checkpoint_number=checkpoint_number)

    manager.save = signalled
    schedule = Schedule(total_steps=4, steps_per_call=2, save_every=0, eval_every=4, images_per_step=1)
    actions = Actions(evaluate=lambda step: {"fid": 1.0})
    with pytest.raises(KeyboardInterrupt):
        Controller(t, schedule, manager, writer=None, actions=actions, progress=False).run()
    assert noted == ["step 4 is saved and scored"] and (tmp_path / "ckpt-4.index").is_file()
    cut = _FakeTrainer({"critic_loss": 1.0})
    train = cut.train

    def cut_short(num_steps: tf.Tensor) -> dict[str, tf.Tensor]:
        metrics = train(num_steps)
        if int(cut.step.numpy()) == 4:
            raise KeyboardInterrupt  # the last chunk trained, its evaluation not begun
        return metrics

    cut.train = cut_short  # type: ignore[method-assign]
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(step=cut.step, model=cut.model), str(tmp_path / "b"), 5
    )
    with pytest.raises(KeyboardInterrupt):
        Controller(cut, schedule, manager, writer=None, actions=actions, progress=False).run()
    assert noted == ["step 4 is saved and scored"]  # nothing more: the same command owes step 4's scores
    assert (tmp_path / "b" / "ckpt-4.index").is_file()
    # A signal amid what follows the last evaluation (pictures, best/, the record's note that
    # the step was evaluated) waits for all of it: it said "resume" while the record said done.
    after: list[int] = []
    t = _FakeTrainer({"critic_loss": 1.0})
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path / "c"), 5
    )
    actions = Actions(
        evaluate=lambda step: {"fid": 1.0},
        after_eval=[
            lambda step, scores: os.kill(os.getpid(), signal.SIGTERM),
            lambda step, _: after.append(step),
        ],
    )
    with pytest.raises(KeyboardInterrupt):
        Controller(t, schedule, manager, writer=None, actions=actions, progress=False).run()
    assert after == [4] and noted == ["step 4 is saved and scored"] * 2


def test_an_owed_evaluation_saves_nothing_on_any_worker(tmp_path: Path) -> None:
    # A worker other than the chief saves into a folder of its own that holds no checkpoint
    # of the step resumed from: had it saved it again, alone, the collective save would have
    # waited for the others until its timeout.
    t = _FakeTrainer({"critic_loss": 1.0})
    t.step.assign(4)  # restored at the run's end
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    calls: list[tuple[str, int]] = []
    actions = _logged_actions(calls)
    schedule = Schedule(total_steps=4, steps_per_call=2, save_every=2, eval_every=2, images_per_step=1)
    Controller(t, schedule, manager, writer=None, actions=actions, progress=False, evaluated_at=2).run()
    assert calls == [("evaluate", 4), ("after save", 4)]
    assert not list(tmp_path.iterdir())  # nothing saved


def _tiny_unscored_gan(data: Path, root: Path) -> configs.GanConfig:
    """A 2-step GAN run's config, tiny networks, no scores, checkpoints in ``root/gan``."""
    from mnist_gan.runtime import config

    tiny = dict(noise_dim=8, gen_width=8, critic_width=8, batch_size=16, mixed_precision="off")
    return config.defaults(configs.GanConfig).replace(
        data_dir=str(data), save_dir=str(root / "gan"), log_dir=str(root / "logs"),
        eval=False, steps=2, steps_per_call=1, **tiny,
    )  # fmt: skip


def test_the_error_that_stopped_a_run_is_the_one_reported(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk stopped the run, then failed its progress GIF too, and the GIF's error was
    # the one printed: it named progress.gif, not the checkpoint that could not be written.
    from mnist_gan.training import gan, loop

    cfg = _tiny_unscored_gan(tiny_dataset, tmp_path)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", "progress.gif")

    def save_failed(self: loop.Controller, step: int, again: bool = False) -> None:
        raise CheckpointError(f"ckpt-{step}: cannot write the checkpoint (No space left on device)")

    monkeypatch.setattr(gan.ProgressPictures, "write_gif", disk_full)
    monkeypatch.setattr(loop.Controller, "_save", save_failed)
    with pytest.raises(CheckpointError, match="cannot write the checkpoint"):
        gan.train_gan(cfg, tf.distribute.get_strategy())
    assert not (tmp_path / "gan" / "run.lock").exists()  # the folder released all the same
    monkeypatch.setattr(loop.Controller, "_save", lambda self, step, again=False: None)
    with pytest.raises(OSError, match="No space left"):  # a run that finished reports it
        gan.train_gan(cfg.replace(save_dir=str(tmp_path / "gan2")), tf.distribute.get_strategy())


def test_an_interrupt_as_a_finished_run_ends_says_there_is_nothing_to_resume(
    tiny_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # Ctrl-C while the finished run wrote progress.gif said "run the same command again to
    # resume", and the same command then said "already at step 2": nothing had been resumable.
    from mnist_gan.runtime import cli
    from mnist_gan.training import gan

    cfg = _tiny_unscored_gan(tiny_dataset, tmp_path)

    def ctrl_c(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    def train() -> int:
        gan.train_gan(cfg, tf.distribute.get_strategy())
        return 0

    # cli.run installs its SIGTERM handler and wraps stdout and stderr, for the process's
    # lifetime: put back after this test, as other tests expect them.
    for name in ("stdout", "stderr"):
        monkeypatch.setattr(sys, name, getattr(sys, name))
    handler = signal.getsignal(signal.SIGTERM)
    request.addfinalizer(lambda: signal.signal(signal.SIGTERM, handler))
    monkeypatch.setattr(gan.ProgressPictures, "write_gif", ctrl_c)
    with pytest.raises(SystemExit) as stopped:
        cli.run(train)
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert stopped.value.code == 130
    assert said.startswith("interrupted (SIGINT) as the run was ending: step 2 is saved, so there is nothing")
    assert "run the same command again" not in said
    monkeypatch.setattr(gan.ProgressPictures, "write_gif", lambda self: None)
    assert gan.train_gan(cfg, tf.distribute.get_strategy()).nothing_to_do  # as the line said

    # Cut short in training, the same process's next run says to resume again.
    def ctrl_c_in_training(self: object, num_steps: tf.Tensor) -> dict[str, tf.Tensor]:
        raise KeyboardInterrupt

    def train_on() -> int:
        gan.train_gan(cfg.replace(steps=4), tf.distribute.get_strategy())
        return 0

    monkeypatch.setattr(gan.GanTrainer, "train", ctrl_c_in_training)
    with pytest.raises(SystemExit):
        cli.run(train_on)
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("resume from the last checkpoint")


def test_checkpoints_whose_files_are_all_gone_are_named_so(tiny_dataset: Path, tmp_path: Path) -> None:
    # They were "written by a different model or damaged", with "resume with the settings
    # that wrote them" as a way out that could not work.
    assert _train(tiny_dataset, tmp_path, "--steps", "4", "--save-every", "2").returncode == 0
    for f in (tmp_path / "ckpt").glob("ckpt-*"):
        f.unlink()  # the checkpoint list and the record stay
    result = _train(tiny_dataset, tmp_path, "--steps", "4", "--save-every", "2")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    said = result.stderr.strip().splitlines()[-1]
    assert said.startswith("error: ") and "ckpt-4: its files are gone" in said
    assert "move the folder aside" in said and "settings that wrote them" not in said


def test_a_last_score_after_the_last_save_reaches_the_record_and_best(tmp_path: Path) -> None:
    # The run's end a save step but not a score step: saved, then scored, and the actions after
    # a save (the record, best/) never heard of the score: a new best went uncopied, and the
    # record said the end was still owed its evaluation.
    t = _FakeTrainer({"critic_loss": 1.0})
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=t.step, model=t.model), str(tmp_path), 5)
    calls: list[tuple[str, int]] = []
    actions = _logged_actions(calls)
    schedule = Schedule(total_steps=4, steps_per_call=2, save_every=2, eval_every=3, images_per_step=1)
    Controller(t, schedule, manager, writer=None, actions=actions, progress=False).run()
    assert calls == [
        ("after save", 2),
        ("evaluate", 3),
        ("after save", 4),
        ("evaluate", 4),
        ("after save", 4),
    ]
