"""MultiWorkerMirroredStrategy on loopback: two worker processes on 127.0.0.1 ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, TINY_GAN_FLAGS, checkpoint_variables, printed, run_script, run_train

# In one test process between them under pytest-xdist: each cluster asks the kernel for free
# ports and releases them before its workers bind them, so two at once could race for one.
pytestmark = pytest.mark.xdist_group("loopback_cluster")

FLAGS = ["--no-eval", "--steps-per-call", "2", "--save-every", "2", *TINY_GAN_FLAGS]


def _cluster_command(data: Path, root: Path, *flags: str) -> list[str]:
    """scripts/local_cluster.sh starting two train.py workers that share ``root``."""
    cluster = ["bash", "scripts/local_cluster.sh", "2", "--"]
    worker = [sys.executable, "train.py", "--strategy", "multiworker", "--data-dir", str(data)]
    folders = ["--save-dir", str(root / "ckpt"), "--log-dir", str(root / "logs")]
    return [*cluster, *worker, *folders, *FLAGS, *flags]


def _cluster(
    data: Path, root: Path, *flags: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    env = {"PYTHON": sys.executable, "TMPDIR": str(root / "tmp"), **(env or {})}
    return run_script(*_cluster_command(data, root, *flags), env=env, timeout=timeout)


# float32, the defaults otherwise. The reference is one process with as many replicas (2 on
# the CPU): each replica then computes on the same share of the batch as each worker, so
# what is compared is what several machines add (the collectives, the data sharding). One
# replica against two is test_gan.py's: this tiny run amplifies the rounding of a split
# batch (with the lazy penalty one-centred as WGAN-GP's, to 3e-3 in the weights; README,
# Several machines).
EXACT = ["--mixed-precision", "off"]
# One thread per op in both runs: a kernel's sums are then ordered alike in a worker and in a
# replica. With the threads a process picks, the critic's larger batch under the consistency
# term sums in another order, and Adam turns that rounding in gradients near zero into
# steps of its learning rate (up to 5 % of the generator's weights after these 4 steps).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}


def _dead(name: str, value: np.ndarray) -> bool:
    """The bias of the critic's score (and its Adam slots): it cancels out of every loss term,
    so its gradient is a rounding, which Adam's first steps turn into a step of either sign
    (tests/test_gan.py leaves it out too)."""
    return name.startswith("critic") and value.shape == (1,)


def test_two_workers_train_like_one_process_with_two_replicas(tiny_dataset: Path, tmp_path: Path) -> None:
    result = _cluster(tiny_dataset, tmp_path / "mw", "--steps", "4", *EXACT, env=ONE_THREAD)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "[worker 0] checkpoint:" in out and "[worker 1] worker done at step 4" in out
    prints = {w: printed(rf"\[worker {w}\] weights fingerprint: (\w+)", out) for w in (0, 1)}
    assert prints[0] == prints[1]  # the replicas on both workers hold the same weights
    # One progress bar (the chief's), and no C++ log lines such as StartAbort at the end.
    bars = {
        w: [s for s in result.stderr.split("\n") if s.startswith(f"[worker {w}]") and "gan:" in s]
        for w in (0, 1)
    }
    assert bars[0] and not bars[1], result.stderr[-3000:]
    assert "E0000" not in result.stderr and "StartAbort" not in result.stderr, result.stderr[-3000:]
    # Only the chief keeps files; the other worker's temporary checkpoints are gone.
    assert sorted(p.name for p in (tmp_path / "mw" / "ckpt").glob("*.index")) == [
        "ckpt-2.index",
        "ckpt-4.index",
    ]
    assert list((tmp_path / "mw" / "tmp").iterdir()) == []
    assert len(list((tmp_path / "mw" / "logs").iterdir())) == 1
    # The same global batch and seed in one process, on as many replicas, gives the same weights.
    single = run_train(
        tiny_dataset, tmp_path / "one", *FLAGS, "--steps", "4", *EXACT, "--cpu-replicas", "2", env=ONE_THREAD
    )
    assert single.returncode == 0, single.stderr[-3000:]
    assert "MirroredStrategy, 2 replicas" in single.stdout
    a, b = (
        checkpoint_variables(tmp_path / "mw" / "ckpt" / "ckpt-4"),
        checkpoint_variables(tmp_path / "one" / "ckpt" / "ckpt-4"),
    )
    assert a.keys() == b.keys()
    dead = [name for name in a if _dead(name, a[name])]
    assert len(dead) == 3  # the bias (saved once, under the optimizer's reference) and its Adam slots
    for name in a:
        if name not in dead:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5, err_msg=name)


def _worker_pid(root: Path, index: int) -> int:
    """The train.py process of worker ``index`` of the cluster writing to ``root``."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        ours = cmdline[:2] == [sys.executable.encode(), b"train.py"] and str(root).encode() in b" ".join(
            cmdline
        )
        if ours and f'"index": {index}}}'.encode() in environ:
            return int(proc.name)
    raise AssertionError(f"no worker {index} process found")


def test_dead_worker_stops_the_other_and_a_restart_resumes(tiny_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "mw"
    (root / "tmp").mkdir(parents=True)
    command = _cluster_command(tiny_dataset, root, "--steps", "100000", "--collective-timeout", "15")
    log = tmp_path / "out.txt"
    env = {**os.environ, "PYTHON": sys.executable, "TMPDIR": str(root / "tmp"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with log.open("w") as out:
        cluster = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 180
            while not (root / "ckpt" / "ckpt-4.index").exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert (root / "ckpt" / "ckpt-4.index").exists(), log.read_text()[-3000:]
            victim = _worker_pid(root, index=1)
            os.kill(victim, signal.SIGKILL)
            start = time.monotonic()
            cluster.wait(timeout=120)
            stopped_after = time.monotonic() - start
        finally:
            if cluster.poll() is None:
                os.killpg(cluster.pid, signal.SIGKILL)
    text = log.read_text()
    assert cluster.returncode != 0
    assert stopped_after < 90, text[-3000:]
    assert "restart every worker with the same command" in text or "lost contact" in text, text[-3000:]
    saved = max(int(p.name.split("-")[1].split(".")[0]) for p in (root / "ckpt").glob("ckpt-*.index"))
    again = _cluster(tiny_dataset, root, "--steps", str(saved + 2))
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"[worker 0] resumed from step {saved}" in again.stdout
    assert f"[worker 1] resumed from step {saved}" in again.stdout


@pytest.mark.parametrize(
    "tf_config",
    [
        "",
        "{not json",
        '{"cluster": {}}',
        # TensorFlow's own refusals were tracebacks (exit 1):
        '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}',
        '{"cluster": {"worker": ["127.0.0.1:1"], "ps": ["127.0.0.1:2"]}, "task": {"type": "ps", "index": 0}}',
        '{"cluster": {"worker": "127.0.0.1:1"}, "task": {"type": "worker", "index": 0}}',
    ],
)
def test_bad_tf_config_refused(tiny_dataset: Path, tmp_path: Path, tf_config: str) -> None:
    result = run_script(
        "train.py",
        "--strategy",
        "multiworker",
        "--data-dir",
        str(tiny_dataset),
        "--save-dir",
        str(tmp_path / "c"),
        *FLAGS,
        env={"TF_CONFIG": tf_config},
    )
    assert result.returncode == 2
    assert "TF_CONFIG" in result.stderr and "Traceback" not in result.stderr


def test_two_workers_train_the_classifier(tiny_dataset: Path, tmp_path: Path) -> None:
    root = tmp_path / "cls"
    (root / "tmp").mkdir(parents=True)
    cluster = ["bash", "scripts/local_cluster.sh", "2", "--"]
    worker = [sys.executable, "classifier.py", "--strategy", "multiworker", "--data-dir", str(tiny_dataset)]
    folders = ["--save-dir", str(root / "ckpt"), "--log-dir", str(root / "logs"), "--epochs", "1"]
    env = {"PYTHON": sys.executable, "TMPDIR": str(root / "tmp")}
    result = run_script(*cluster, *worker, *folders, "--batch-size", "20", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    # Only the chief scores; the other worker ends cleanly, with the same weights.
    assert "[worker 0] test accuracy:" in result.stdout
    assert "[worker 1] worker done at step 10" in result.stdout
    prints = {w: printed(rf"\[worker {w}\] weights fingerprint: (\w+)", result.stdout) for w in (0, 1)}
    assert prints[0] == prints[1]


def test_tf_config_read_as_tensorflow_reads_it() -> None:
    from mnist_gan.runtime.distribute import _check_cluster
    from mnist_gan.runtime.errors import DistributionError

    two = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    _check_cluster(two, {"type": "worker", "index": 1})
    _check_cluster(two, {"type": "worker", "index": "1"})  # TensorFlow takes int() of it
    _check_cluster({"chief": ["127.0.0.1:3"], **two}, {"type": "chief", "index": 0})
    with pytest.raises(DistributionError, match=r"task index True is not one of the 2 worker"):
        _check_cluster(two, {"type": "worker", "index": True})
    with pytest.raises(DistributionError, match="2 chief addresses; it takes one at most"):
        _check_cluster({"chief": ["127.0.0.1:3", "127.0.0.1:4"], **two}, {"type": "worker", "index": 0})
