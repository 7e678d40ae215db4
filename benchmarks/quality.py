#!/usr/bin/env python3
"""Quality benchmark: the whole pipeline on the 5k real-digit sample at a fixed budget.

Trains the classifier, trains the GAN for a fixed number of steps with a fixed seed, then
runs evaluate.py; prints every metric beside its real-data reference and the wall time of
each stage. A benchmark, not a test: it asserts nothing and takes 6-9 minutes on 2 cores.

    python benchmarks/quality.py [--data-dir datasets/MNIST-5k] [--steps 3000] [--mixed-precision auto]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mnist_gan.precision import MODES  # noqa: E402  (no TensorFlow: it only names the modes)


def stage(name: str, *args: str) -> float:
    """Run one of the project's scripts; return its wall time in seconds."""
    start = time.perf_counter()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{name} failed:\n{result.stderr[-3000:]}")
    print(f"{name}: {seconds:.0f} s", flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default="datasets/MNIST-5k", help="real digits (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=3000, help="GAN generator steps (default: %(default)s)")
    parser.add_argument("--classifier-epochs", type=int, default=20, help="(default: %(default)s)")
    parser.add_argument(
        "--num-samples", type=int, default=1000, help="generated digits scored (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument(
        "--mixed-precision",
        default="auto",
        choices=MODES,
        help="the GAN's precision, as train.py takes it (default: %(default)s)",
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the runs (default: a temporary one)"
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mnist-gan-quality-"))
    cls, gan, metrics = work / "classifier", work / "gan", work / "metrics.json"
    times = {
        "classifier": stage(
            "classifier",
            "classifier.py",
            "--data-dir",
            args.data_dir,
            "--save-dir",
            str(cls),
            "--log-dir",
            str(work / "logs"),
            "--epochs",
            str(args.classifier_epochs),
            "--seed",
            str(args.seed),
        ),
        "gan": stage(
            "gan",
            "train.py",
            "--data-dir",
            args.data_dir,
            "--save-dir",
            str(gan),
            "--classifier-dir",
            str(cls),
            "--log-dir",
            str(work / "logs"),
            "--steps",
            str(args.steps),
            "--eval-every",
            "0",
            "--eval-samples",
            str(args.num_samples),
            "--seed",
            str(args.seed),
            "--mixed-precision",
            args.mixed_precision,
        ),
        "evaluate": stage(
            "evaluate",
            "evaluate.py",
            "--checkpoint-dir",
            str(gan),
            "--classifier-dir",
            str(cls),
            "--data-dir",
            args.data_dir,
            "--eval-samples",
            str(args.num_samples),
            "--seed",
            str(args.seed),
            "--output",
            str(metrics),
        ),
    }
    report = json.loads(metrics.read_text())
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}")
    print(
        f"budget: classifier {args.classifier_epochs} epochs, GAN {args.steps} steps "
        f"(--mixed-precision {args.mixed_precision}), seed {args.seed}, "
        f"{args.num_samples} generated digits scored\n"
    )
    print("| metric | generated | real data |")
    print("| --- | --- | --- |")
    for name, value in report["metrics"].items():
        print(f"| {name} | {value:.4f} | {report['real_references'][name]:.4f} |")
    print("\n| stage | wall time |")
    print("| --- | --- |")
    for name, seconds in times.items():
        print(f"| {name} | {seconds / 60:.1f} min |")
    print(f"| total | {sum(times.values()) / 60:.1f} min |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
