"""Each front-end script answers --help with every option and its default."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from conftest import run_script

from mnist_gan import configs
from mnist_gan.runtime import config


@pytest.mark.parametrize(
    ("script", "cls"),
    [
        ("classifier.py", configs.ClassifierConfig),
        ("train.py", configs.GanConfig),
        ("generate.py", configs.GenerateConfig),
        ("evaluate.py", configs.EvaluateConfig),
    ],
)
def test_help_shows_every_option_with_default(script: str, cls: type[config.Config]) -> None:
    result = run_script(script, "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for key, value in config.defaults(cls).to_dict().items():
        flag = "--" + key.replace("_", "-")
        assert flag in text, flag
        if value == "":
            continue  # empty defaults: the help says what they mean instead
        assert f"(default: {value})" in text, key
    assert "--config" in text and "--version" in text
    assert "(default: )" not in text


def test_train_help_groups_every_key_under_one_heading_each() -> None:
    from mnist_gan.commands import train

    result = run_script("train.py", "--help", timeout=60)
    headings = [
        line for line in result.stdout.splitlines() if line and not line[0].isspace() and line.endswith(":")
    ]
    assert len(headings) == len(set(headings)), headings  # each title once, not once per flag
    titles = [*train.GROUPS]
    assert [h.rstrip(":") for h in headings if h.rstrip(":") in titles] == titles
    # Under the generic heading only the flags that are not config keys (and -h, --help).
    generic = result.stdout.split("options:", 1)[1].split(f"{titles[0]}:", 1)[0]
    assert sorted(set(re.findall(r"^  (--[a-z-]+)", generic, re.M))) == ["--config", "--version"]


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


def test_cpu_run_prints_no_tensorflow_start_up_lines(tmp_path: Path) -> None:
    from conftest import TINY_GAN_FLAGS, run_train, synthetic_digits, write_dataset

    x, y = synthetic_digits(100)
    write_dataset(tmp_path / "data", x, y, x[:20], y[:20])
    result = run_train(tmp_path / "data", tmp_path, "--no-eval", "--steps", "2", *TINY_GAN_FLAGS)
    assert result.returncode == 0, result.stderr[-3000:]
    for marker in ("cuda", "cuinit", "absl", "I0000", "E0000", "W0000", "cpu_feature_guard"):
        assert marker.lower() not in result.stderr.lower(), result.stderr[-3000:]
    first = result.stdout.splitlines()[0]
    assert first.startswith("one replica on the CPU"), first


def test_commands_start_tensorflow_with_onednn_kernels_unless_the_user_chose(tmp_path: Path) -> None:
    """TensorFlow turns oneDNN on by itself only on CPUs with AVX512-VNNI, AMX and the like;
    every command asks for it (1.5x the step's speed on AVX2 alone: README, Speed), and a
    user's own TF_ENABLE_ONEDNN_OPTS wins."""
    from conftest import TINY_GAN_FLAGS, run_train, synthetic_digits, write_dataset

    probe = (
        "import os; from mnist_gan.runtime import process; process.setup(); "
        "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], process.onednn_enabled())"
    )
    assert run_script(sys.executable, "-c", probe).stdout.split() == ["1", "True"]
    chosen = run_script(sys.executable, "-c", probe, env={"TF_ENABLE_ONEDNN_OPTS": "0"})
    assert chosen.stdout.split() == ["0", "False"], chosen.stderr[-2000:]
    # train.py asks before anything it imports starts TensorFlow: TensorFlow says so itself.
    x, y = synthetic_digits(100)
    write_dataset(tmp_path / "data", x, y, x[:20], y[:20])
    verbose = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    result = run_train(tmp_path / "data", tmp_path, "--no-eval", "--steps", "1", *TINY_GAN_FLAGS, env=verbose)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "oneDNN custom operations are on" in result.stderr, result.stderr[-3000:]


def test_local_cluster_help() -> None:
    result = run_script("bash", "scripts/local_cluster.sh", "--help", timeout=30)
    assert result.returncode == 0, result.stderr
    assert "TF_CONFIG" in result.stdout


def test_make_help_lists_the_targets() -> None:
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = run_script("make", "--no-print-directory", "help", timeout=30)
    assert result.returncode == 0, result.stderr
    for target in ("venv", "sample", "demo", "test", "lint", "clean"):
        assert f"  {target} " in result.stdout, target


def test_printed_lines_reach_a_pipe_in_step_with_stderr() -> None:
    # Piped (make demo tees train.py), stdout was block-buffered: the evaluation lines arrived
    # in one burst at the end, glued to the progress bar that stderr had drawn meanwhile.
    import subprocess

    from conftest import ROOT

    program = (
        "import sys\n"
        "from mnist_gan.runtime import cli\n"
        "def main():\n"
        "    print('step 125: fid 9')\n"
        "    sys.stderr.write('bar\\n'); sys.stderr.flush()\n"
        "    return 0\n"
        "cli.run(main)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as in most shells
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and result.stdout == "step 125: fid 9\nbar\n"


# A command that prints its report, then writes its file (as evaluate.py does), waiting in
# between until the test has closed the pipe it prints into.
_REPORT_THEN_FILE = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from mnist_gan.runtime import cli\n"
    "out = Path(sys.argv[1])\n"
    "def main():\n"
    "    print('fid 1.4')\n"
    "    deadline = time.monotonic() + 60\n"  # a regression fails the test, never hangs it
    "    while not (out.parent / 'reader-gone').exists() and time.monotonic() < deadline:\n"
    "        time.sleep(0.01)\n"
    "    for i in range(1000):\n"
    "        print(f'line {i}')\n"
    "        print(f'progress {i}', file=sys.stderr)\n"
    "    out.write_text('{}')\n"
    "    return 0\n"
    "cli.run(main)\n"
)


@pytest.mark.parametrize("both", [False, True])
def test_a_reader_that_leaves_early_costs_no_output_file(tmp_path: Path, both: bool) -> None:
    # `./evaluate.py ... | grep -m1 fid`: the reader leaves after one line. The command used
    # to stop at its next print with 'error: [Errno 32] Broken pipe', before writing its JSON.
    import subprocess

    from conftest import ROOT

    # With `both`, stderr shares the pipe (`2>&1 | grep -m1 fid`): the progress lines meet
    # the broken pipe too.
    out = tmp_path / "metrics.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    command = [sys.executable, "-c", _REPORT_THEN_FILE, str(out)]
    stderr_to = subprocess.STDOUT if both else subprocess.PIPE
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr_to, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == "fid 1.4\n"
        process.stdout.close()
        (tmp_path / "reader-gone").touch()
        stderr = "" if process.stderr is None else process.stderr.read()
        status = process.wait(timeout=60)
    assert status == 0 and out.read_text() == "{}"
    assert "Error" not in stderr and stderr.count("progress") == (0 if both else 1000)


def test_a_closed_stdout_is_no_crash(tmp_path: Path) -> None:
    # `./train.py >&-`: Python starts with sys.stdout None; the first print was an
    # AttributeError that left the run's lock behind.
    import subprocess

    from conftest import ROOT

    out = tmp_path / "metrics.json"
    (tmp_path / "reader-gone").touch()
    holding = _REPORT_THEN_FILE.replace("cli.run(main)", "cli.run(main, hold=True)")  # as train.py
    command = [sys.executable, "-c", holding, str(out)]
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            check=False, preexec_fn=lambda: os.close(1))  # fmt: skip
    assert result.returncode == 0 and "Error" not in result.stderr and out.read_text() == "{}"


@pytest.mark.parametrize("resumes", [False, True])
def test_an_interrupt_says_resume_only_where_there_is_a_checkpoint(resumes: bool) -> None:
    import subprocess

    from conftest import ROOT

    program = (
        "from mnist_gan.runtime import cli\n"
        "def main():\n"
        f"    if {resumes}:\n"
        "        cli.note_checkpoint()  # restored or saved one\n"
        "    raise KeyboardInterrupt\n"
        "cli.run(main, hold=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 130 and result.stderr.startswith("interrupted (SIGINT)")
    assert ("run the same command again to resume" in result.stderr) == resumes


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        ("raise MemoryError", "error: out of memory; ask for less at once"),
        (
            "import tensorflow as tf\n"
            "    raise tf.errors.ResourceExhaustedError(None, None, 'OOM allocating shape[9]')",
            "error: TensorFlow ran out of memory (OOM allocating shape[9]); ask for less",
        ),
        (  # not memory, though its path holds "oom": the line must not say it is (it did)
            "import tensorflow as tf\n"
            "    raise tf.errors.ResourceExhaustedError(None, None, 'room/ckpt-4; No space left on device')",
            "error: TensorFlow ran out of a resource (room/ckpt-4; No space left on device); free",
        ),
        (  # the OS's reason past where the line is cut was lost
            "import tensorflow as tf\n"
            "    said = 'SaveV2 ' + 'x' * 300 + ' No space left on device'\n"
            "    raise tf.errors.ResourceExhaustedError(None, None, said)",
            "error: TensorFlow ran out of a resource (SaveV2 "
            + "x" * 153
            + "...: No space left on device); free",
        ),
    ],
)
def test_running_out_of_memory_or_disk_is_one_error_line_not_a_traceback(raised: str, said: str) -> None:
    # generate.py --count 1000000 died with a page of TensorFlow traceback.
    import subprocess

    from conftest import ROOT

    program = f"from mnist_gan.runtime import cli\ndef main():\n    {raised}\ncli.run(main)\n"
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]  # after TensorFlow's own start-up lines
    assert last.startswith(said) and "Traceback" not in result.stderr
    # Memory's line names the flags that ask for less; a full disk's does not.
    assert ("--batch-size" in last) == ("memory" in said)


@pytest.mark.parametrize(
    ("resumes", "said"),
    [
        (False, "interrupted (SIGTERM)\n"),
        # A training command outside its loop (loading data, writing pictures at the end): it
        # died of SIGTERM silently, its lock and progress line left as they were.
        (True, "interrupted (SIGTERM); run the same command again to resume from the last checkpoint\n"),
    ],
)
def test_sigterm_ends_a_command_as_ctrl_c_does(resumes: bool, said: str) -> None:
    # evaluate.py and generate.py died of SIGTERM mid-line, their progress line unended.
    import subprocess

    from conftest import ROOT

    program = (
        "import os, signal, sys, time\n"
        "from mnist_gan.runtime import cli\n"
        "def main():\n"
        f"    if {resumes}:\n"
        "        cli.note_checkpoint()\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(30)\n"
        "    finally:\n"
        "        sys.stderr.write('progress line ended\\n')\n"
        "    return 0\n"
        "cli.run(main)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 128 + 15
    assert result.stderr == "progress line ended\n" + said


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_unwritable_stdout_or_no_stderr_costs_no_output_file(tmp_path: Path) -> None:
    # stdout on a full disk stopped a command with 'error: [Errno 28] ...' after its work and
    # before the rest of its files; stdin and stderr both closed left descriptor 2 closed, and
    # TensorFlow's quieting failed on it.
    import subprocess

    from conftest import ROOT

    out = tmp_path / "metrics.json"
    (tmp_path / "reader-gone").touch()
    command = [sys.executable, "-c", _REPORT_THEN_FILE, str(out)]
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            command, cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, check=False
        )
    assert result.returncode == 0 and out.read_text() == "{}"
    assert "warning: cannot write to stdout (No space left on device)" in result.stderr
    out.unlink()
    # As TensorFlow's quieting does, the command duplicates descriptor 2 while it works.
    needs_fd2 = _REPORT_THEN_FILE.replace(
        "def main():\n", "def main():\n    import os; os.close(os.dup(2))\n"
    )

    def close_stdin_and_stderr() -> None:
        os.close(0)
        os.close(2)

    closed = subprocess.run([sys.executable, "-c", needs_fd2, str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            check=False, preexec_fn=close_stdin_and_stderr)  # fmt: skip
    assert closed.returncode == 0 and out.read_text() == "{}"
