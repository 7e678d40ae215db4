#!/usr/bin/env python3
"""Quality benchmark: the whole pipeline on any dataset (default: the 5k real-digit sample), several
seeds, variants side by side.

Trains the classifier once (it is the yardstick), then for every variant and seed trains the
GAN for a fixed number of steps, scoring it every --eval-every steps, and runs evaluate.py on
the result. Prints every metric per seed with its real-data reference, the mean and the
worst seed (CAS the mean of --cas-readings classifiers a side, with the standard error of its
distance to the line), a time-to-quality table (step, minutes of training, accuracy, FID), the recall
of each class per seed (where the digits a generator leaves out lie), the goals
of the project's quality bar met or not by the worst seed, and what the runs cost (wall time,
training time per 1,000 steps, start-up, peak memory of each script). A GAN result is a distribution:
judge by the worst seed, not the best. A benchmark, not a test: it asserts nothing.
"Minutes of training" count the training steps only (no start-up, evaluation or saving); they
mean something only on an otherwise idle machine.

Variants, each scored the same way, are listed after the options.
Every variant sees as many digits as its length asks: --steps and --eval-every count steps of
the default batch, and a variant with another batch takes as many more or fewer steps.

    python benchmarks/quality.py                       # 3 seeds, default beside previous
    python benchmarks/quality.py --seeds 1 --variants default --steps 1000
    python benchmarks/quality.py --variants default,batch32   # batch 32 for 9,000 steps
    python benchmarks/quality.py --variants orthogonal --seeds 1 --first-seed 2  # a third seed
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# No TensorFlow in these: they only name the modes and parse train.py's flags.
from mnist_gan.configs import EvaluateConfig, GanConfig  # noqa: E402
from mnist_gan.runtime import flags, limits  # noqa: E402
from mnist_gan.runtime.errors import ConfigError  # noqa: E402
from mnist_gan.runtime.flags import parse_args  # noqa: E402
from mnist_gan.runtime.precision import MODES  # noqa: E402

# train.py flags that restore the defaults before the last change (2026-12-07): the critic's
# first feature maps without a bias of each class's own, the class only at its projection head.
PLAIN_CRITIC = ["--no-critic-class-bias"]
PREVIOUS = PLAIN_CRITIC
# ... and before the change before (2026-12-06, night): the weight average's decay capped at
# 0.999, which within the demo's 4,500 steps never bound.
LONG_AVERAGE = [*PLAIN_CRITIC, "--ema-decay", "0.999"]
# ... and before the change before (2026-12-06, evening): the generator's first layer reading
# the noise through weights every class shares, and the mode-seeking term at 0.005.
SHARED_NOISE = ["--gen-noise-weights", "shared", *LONG_AVERAGE]
SHARED_NOISE_PREVIOUS = [*SHARED_NOISE, "--gen-mode-seeking", "0.005"]
# ... and before the change before (2026-12-05, night): both networks 64 filters wide, no
# mode-seeking term; and 3,000 steps, not 4,500 (LENGTH).
WIDE = ["--critic-width", "64", "--gen-width", "64"]
WIDE_PREVIOUS = [*SHARED_NOISE, *WIDE, "--gen-mode-seeking", "0"]
# ... and before that: no consistency term, the critic spectrally normalised.
NO_CONSISTENCY = [*WIDE_PREVIOUS, "--critic-consistency", "0", "--critic-spectral-norm"]
# ... and before that: the gradient penalty on every critic update, not on every 4th at 4
# times the weight.
LAZY = [*NO_CONSISTENCY, "--gp-every", "1"]
# ... and before the generator's fast start (twice its rate for its first 250 steps), before
# the critic saw its digits unshifted (DiffAugment's translation, up to 3 pixels), the
# zero-centred gradient penalty and the optimiser and architecture changes: WGAN-GP's penalty,
# the class only at the generator's input, the original networks, two critic updates a step,
# Adam's beta_1 0.5, a learning rate decaying to zero.
EARLIER = [
    *LAZY,
    *("--gen-lr-early-steps", "0"),
    *("--critic-augment", "translation"),
    *("--gp-center", "1"),
    *("--gen-conditioning", "input"),
    *("--beta-1", "0.5", "--lr-decay", "linear", "--lr-decay-to", "0"),
    *("--crit-steps", "2", "--critic-blocks", "0", "--critic-embedding", "spectral"),
    *("--gen-output", "transposed"),
]
# ... and before the weight average and augmentation too.
ORIGINAL = [*EARLIER, "--ema-decay", "0", "--critic-augment", "none"]
# Levers on today's defaults. Half the batch (twice the steps for the same digits: steps_for).
BATCH32 = ["--batch-size", "32"]
# A lazier penalty, on every 8th critic update at 8 times the weight: measured on three seeds
# on both kinds of machine and not kept (docs/tuning.md, Screens of 2026-12-04, and of its
# evening); kept here to repeat it elsewhere.
GP8 = ["--gp-every", "8"]
# Every kernel of both networks starting orthogonal (as BigGAN's) instead of glorot: measured
# on three seeds on both kinds of machine and not kept (docs/tuning.md, Screens of 2026-12-04,
# and of its evening).
ORTHOGONAL = ["--weight-init", "orthogonal"]
# The consistency term with the critic spectrally normalised: measured on three seeds and
# not kept (recall down; docs/tuning.md, Screens of 2026-12-04 (night)).
CONSISTENCY_SN = ["--critic-spectral-norm"]
# The mode-seeking term at 0.025 measured in the critic's features: on the defaults before
# 2026-12-05 (night), recall at its line on one seed of three, precision a little lower on
# all (docs/tuning.md, Where recall is lost, and four more levers).
SEEKING_CRITIC = ["--gen-mode-seeking", "0.025", "--gen-mode-seeking-space", "critic"]
# The generator's mode-seeking term (MSGAN) at weight 0.005 for 1.5 times the 'wide'
# defaults' steps ('longer-seeking'), and that longer run alone ('longer'; docs/tuning.md,
# Longer, with mode seeking).
LONGER = WIDE_PREVIOUS
LONGER_SEEKING = [*SHARED_NOISE, *WIDE, "--gen-mode-seeking", "0.005"]
# The same with both networks 48 filters wide: the defaults from 2026-12-05 (night) to
# 2026-12-06 (evening), 'shared-noise' spelt out (docs/tuning.md, Recall and precision per class,
# and slimmer networks).
SLIM_SEEKING = [*SHARED_NOISE, "--critic-width", "48", "--gen-width", "48", "--gen-mode-seeking", "0.005"]
# Every batch norm's scale and shift from the class and the noise (BigGAN-deep's), and the
# generator 64 filters wide with the critic 32: measured on 2026-12-06, the first precision
# for recall, the second recall for precision; neither kept (docs/tuning.md, Noise in every
# block, and a generator wider than its critic).
NOISE_CONDITIONING = ["--gen-conditioning", "noise"]
GEN64_CRITIC32 = ["--gen-width", "64", "--critic-width", "32"]
# The generator's first layer reading the noise through weights of each class's own as well
# as shared ones, without the mode-seeking term: the defaults of 2026-12-06 (evening), spelt
# out (docs/tuning.md, A first layer of each class's own).
CLASS_NOISE = ["--gen-noise-weights", "per_class", "--gen-mode-seeking", "0", *LONG_AVERAGE]
# The same into the first 48 of the layer's 96 feature maps only: the class's own weights
# half as many.
CLASS_NOISE_48 = [*CLASS_NOISE, "--gen-noise-weights-maps", "48"]
# Every batch norm of the generator followed by a 1x1 convolution of each class's own:
# measured on two seeds, not kept (docs/tuning.md, A class's own 1x1 convolutions, and a
# shorter weight average).
CLASS_MIXING = ["--gen-class-mixing"]
# Twice the batch for half the steps (as many digits, about the same time on 2 cores).
BATCH128 = ["--batch-size", "128"]
# The learning rates decaying to a tenth, not a quarter: measured on one seed, FID higher at
# each of the last three checkpoints; not kept (docs/tuning.md, Shorter and longer runs, the
# average's statistics, and where a run stops).
LOW_END = ["--lr-decay-to", "0.1"]
# The critic's inputs shifted for a share of the digits that ADA's rule adapts (p from 0, up
# while the critic ranks more than 60 % of a batch's real digits above their generated pairs,
# a signal of 0.2, about where it ranks unseen digits): the form of augmentation a fixed
# share (a quarter) did not pay for.
ADAPTIVE = ["--critic-augment", "translation", "--critic-augment-p", "0", "--critic-augment-target", "0.2"]
VARIANTS = {
    "default": [],
    "previous": PREVIOUS,
    "long-average": LONG_AVERAGE,
    "shared-noise": SHARED_NOISE_PREVIOUS,
    "wide": WIDE_PREVIOUS,
    "no-consistency": NO_CONSISTENCY,
    "lazy": LAZY,
    "earlier": EARLIER,
    "original": ORIGINAL,
    "batch32": BATCH32,
    "batch128": BATCH128,
    "gp8": GP8,
    "orthogonal": ORTHOGONAL,
    "consistency-sn": CONSISTENCY_SN,
    "longer": LONGER,
    "longer-seeking": LONGER_SEEKING,
    "seeking-critic": SEEKING_CRITIC,
    "slim-seeking": SLIM_SEEKING,
    "noise-conditioning": NOISE_CONDITIONING,
    "gen64-critic32": GEN64_CRITIC32,
    "class-noise": CLASS_NOISE,
    "class-noise-48": CLASS_NOISE_48,
    "class-mixing": CLASS_MIXING,
    "low-end": LOW_END,
    "adaptive": ADAPTIVE,
}
# What each variant is, for --help: the comments beside the flags above say why it exists.
ABOUT = {
    "default": "train.py as configured ('critic-class-bias' until it became the default, 2026-12-07)",
    "previous": "the defaults before the last change: the critic without a bias of each class's own "
    "on its first feature maps",
    "long-average": "the defaults before that: also the weight average's decay capped at 0.999, not "
    "0.9965 ('previous' until 2026-12-07)",
    "shared-noise": "before that: also the generator's first layer shared by every class, the "
    "mode-seeking term at 0.005 ('previous' until 2026-12-06, night)",
    "wide": "before that: both networks 64 filters wide, no mode-seeking term, two thirds of the "
    "steps ('previous' until 2026-12-06, evening)",
    "no-consistency": "before that: also no consistency term, the critic spectrally normalised",
    "lazy": "also the gradient penalty on every critic update",
    "earlier": "also the critic's inputs shifted by up to 3 pixels, WGAN-GP's penalty, and the "
    "networks, step and schedule before the quality issue's changes",
    "original": "also before the weight average and augmentation",
    "batch32": "half the batch (twice the steps)",
    "batch128": "twice the batch (half the steps)",
    "gp8": "the penalty on every 8th critic update, not every 4th",
    "orthogonal": "every kernel starting orthogonal, not as Keras's glorot",
    "consistency-sn": "the consistency term with the critic spectrally normalised",
    "longer": "the 'wide' defaults for 1.5 times their steps (today's length)",
    "longer-seeking": "the same with the mode-seeking term at 0.005",
    "seeking-critic": "the mode-seeking term at 0.025 measured in the critic's features",
    "slim-seeking": "'longer-seeking' with both networks 48 filters wide ('shared-noise' spelt out)",
    "noise-conditioning": "the noise as well as the class setting every batch norm of the generator",
    "gen64-critic32": "the generator 64 filters wide and the critic 32",
    "class-noise": "the generator's first layer reading the noise through weights of each class's own "
    "as well as shared ones, no mode-seeking term ('long-average' spelt out)",
    "class-noise-48": "the class's own first-layer weights into 48 of its 96 feature maps only",
    "class-mixing": "a 1x1 convolution of each class's own after every batch norm of the generator",
    "low-end": "the learning rates decaying to a tenth, not a quarter",
    "adaptive": "the critic's inputs shifted for a share of the digits that ADA's rule adapts",
}


# ... in three groups.
GROUPS = {
    "today's defaults, then the defaults before them, each a step further back": [
        *("default", "previous", "long-average", "shared-noise", "wide"),
        *("no-consistency", "lazy", "earlier", "original"),
    ],
    "levers on today's defaults": [
        *("batch32", "batch128", "gp8", "orthogonal", "consistency-sn", "seeking-critic"),
        *("noise-conditioning", "gen64-critic32", "class-mixing", "low-end", "adaptive"),
    ],
    "the candidates that led to today's defaults, at today's length": [
        *("longer", "longer-seeking", "slim-seeking", "class-noise", "class-noise-48"),
    ],
}


def variants_help() -> str:
    """The --help epilog: every variant (--variants) and what it trains, by group."""
    width = max(map(len, VARIANTS)) + 2
    lines: list[str] = []
    for group, names in GROUPS.items():
        lines += ["", f"variants: {group}"] if lines else [f"variants: {group}"]
        for name in names:
            wrapped = textwrap.wrap(ABOUT[name], 96 - width)
            lines.append(f"  {name:<{width}}{wrapped[0]}")
            lines += [" " * (width + 2) + more for more in wrapped[1:]]
    return "\n".join(lines)


# The demo's length (scripts/demo.sh), --steps by default; the defaults before 2026-12-05
# (night) trained 3,000 steps. LENGTH: the share of --steps a variant trains (default: all).
DEMO_STEPS, PREVIOUS_STEPS = 4500, 3000
OLDER_DEFAULTS = ("wide", "no-consistency", "lazy", "earlier", "original")
LENGTH = dict.fromkeys(OLDER_DEFAULTS, Fraction(PREVIOUS_STEPS, DEMO_STEPS))
# The bar's time to quality: this accuracy in training within this many minutes of training.
TIME_GOAL_ACCURACY, TIME_GOAL_MINUTES = 0.95, 1.5
TIME_GOAL_LABEL = f"{TIME_GOAL_ACCURACY * 100:g} %"
# Metrics where lower is better; for the rest higher is better.
LOWER_IS_BETTER = {"fid"}
EVAL_LINE = re.compile(r"step (\d+) \(([\d.]+) min of training\): (.*)")


PEAK_MB: dict[str, float] = {}  # script run -> its peak resident memory, MB


def run(name: str, *args: str) -> tuple[float, str]:
    """Run one of the project's scripts; return its wall time in seconds and its stdout.

    Its peak resident memory goes into ``PEAK_MB`` (from the kernel's accounting of that
    process alone, via wait4).
    """
    start = time.perf_counter()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=err, text=True
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        sys.exit(f"{name} failed:\n{stderr[-3000:]}")
    PEAK_MB[name] = usage.ru_maxrss / 1024  # kB on Linux
    print(f"{name}: {seconds / 60:.1f} min, peak memory {PEAK_MB[name]:,.0f} MB", flush=True)
    return seconds, stdout


def progress(stdout: str) -> list[dict[str, float]]:
    """The in-training evaluations train.py printed: step, minutes of training, scores."""
    rows = []
    for match in EVAL_LINE.finditer(stdout):
        scores = dict(re.findall(r"(\w+) ([-\d.e+]+)", match.group(3)))
        rows.append(
            {
                "step": int(match.group(1)),
                "minutes": float(match.group(2)),
                **{k: float(v) for k, v in scores.items()},
            }
        )
    return rows


def worst(name: str, values: list[float]) -> float:
    return max(values) if name in LOWER_IS_BETTER else min(values)


def describe_variants(variants: list[str]) -> str:
    """The train.py flags of each variant run, for the report's header."""

    def one(v: str) -> str:
        length = f" for {LENGTH[v]} of the steps" if v in LENGTH else ""
        return f"{v} = train.py {' '.join(VARIANTS[v]) or 'as configured'}{length}"

    return "; ".join(one(v) for v in variants)


def batch_of(variant: str) -> int:
    """The global batch a variant trains with, as train.py reads its flags."""
    return parse_args(GanConfig, VARIANTS[variant], "")[0].batch_size


DEFAULT_BATCH = batch_of("default")


def steps_for(steps: int, variant: str) -> int:
    """``steps`` of the default batch, as steps of the variant's batch: the same digits seen."""
    return max(1, round(steps * DEFAULT_BATCH / batch_of(variant)))


def run_steps(steps: int, variant: str) -> int:
    """The length of a variant's run: :func:`steps_for`, times its share in ``LENGTH``."""
    return max(1, round(steps_for(steps, variant) * LENGTH.get(variant, Fraction(1))))


def train_args(args: argparse.Namespace, run_dir: Path, cls: Path, variant: str, seed: int) -> list[str]:
    """train.py's arguments for one run of ``variant``: its length from :func:`run_steps`,
    its scores every --eval-every steps of its own batch."""
    steps, every = run_steps(args.steps, variant), steps_for(args.eval_every, variant)
    return [
        "train.py",
        *("--data-dir", args.data_dir, "--save-dir", str(run_dir / "gan"), "--classifier-dir", str(cls)),
        *("--log-dir", str(run_dir / "logs"), "--steps", str(steps)),
        *("--eval-every", str(every), "--eval-samples", str(args.num_samples)),
        *("--seed", str(seed), "--mixed-precision", args.mixed_precision),
        *VARIANTS[variant],
    ]


def train_and_score(args: argparse.Namespace, work: Path, cls: Path, variant: str, seed: int) -> dict:
    """One GAN run and its evaluation: {'seed', 'metrics', 'references', 'progress', 'seconds', ...}."""
    run_dir = work / f"{variant}-seed{seed}"
    command = train_args(args, run_dir, cls, variant, seed)
    gan_seconds, out = run(f"gan {variant} seed {seed}", *command)
    # Kept beside the run: a benchmark stopped before its report still has each finished
    # run's in-training scores and minutes of training.
    (run_dir / "train-output.txt").write_text(out)
    # The same command again has nothing to train: it loads the data, builds the models,
    # restores the checkpoint and stops. Its wall time is the run's start-up.
    startup, _ = run(f"gan {variant} seed {seed} start-up", *command)
    metrics = run_dir / "metrics.json"
    run(
        f"evaluate {variant} seed {seed}",
        "evaluate.py",
        *("--checkpoint-dir", str(run_dir / "gan"), "--classifier-dir", str(cls)),
        *("--data-dir", args.data_dir, "--eval-samples", str(args.num_samples)),
        *("--seed", str(seed), "--output", str(metrics), "--overwrite"),  # a rerun in --work
        *("--cas-readings", str(args.cas_readings)),
    )
    report = json.loads(metrics.read_text())
    used = next(
        (line for line in out.splitlines() if line.startswith("precision: ")), "precision: not printed"
    )
    return {
        "seed": seed,
        "precision": used,
        "metrics": report["metrics"],
        "references": report["real_references"],
        "memorisation": report.get("memorisation"),
        "recall_per_class": report.get("per_class_recall", {}),
        "per_set": report.get("per_set", {}),
        "cas_readings": report.get("cas_readings", {}),
        "progress": progress(out),
        "seconds": gan_seconds,
        "startup": startup,
    }


def seeds_of(runs: list[dict]) -> list[int]:
    """The GAN seed of each run (a run without one: its place, as seeds 0..N-1 were)."""
    return [r.get("seed", i) for i, r in enumerate(runs)]


def _reference(runs: list[dict], name: str) -> str:
    """The real-data reference of ``name`` over the seeds' evaluations: one value, or the range
    where it moves with the seed (CAS trains its classifiers with seeds from the run's)."""
    refs = [r["references"].get(name, float("nan")) for r in runs]
    low, high = min(refs), max(refs)
    return f"{low:.4f}" if high - low < 5e-5 else f"{low:.4f}–{high:.4f}"


def print_metrics(results: dict[str, list[dict]]) -> None:
    for variant, runs in results.items():
        print(f"\n### {variant}\n")
        names = list(runs[0]["metrics"])
        print(
            "| metric | " + " | ".join(f"seed {s}" for s in seeds_of(runs)) + " | mean | worst | real data |"
        )
        print("| --- |" + " --- |" * (len(runs) + 3))
        for name in names:
            values = [r["metrics"][name] for r in runs]
            cells = " | ".join(f"{v:.4f}" for v in values)
            print(
                f"| {name} | {cells} | {statistics.fmean(values):.4f} | {worst(name, values):.4f} "
                f"| {_reference(runs, name)} |"
            )
        print_reading_noise(runs)
        print_cas_margin(runs)


def print_reading_noise(runs: list[dict]) -> None:
    """How far each seed's FID, precision and recall could move with other noise: the standard
    error of the mean over its sets, so a difference between variants can be weighed."""
    sets = [r["per_set"] for r in runs if len(r.get("per_set", {}).get("fid", [])) > 1]
    if len(sets) < len(runs):
        return  # one set a seed (a sample no larger than the training split): nothing to weigh
    count, size = len(sets[0]["fid"]), sets[0]["size"]
    print(f"\nthe reading's own noise (standard error over each seed's {count} sets of {size:,}):")
    for name in ("fid", "precision", "recall"):
        errors = [statistics.stdev(s[name]) / len(s[name]) ** 0.5 for s in sets]
        print(f"  {name}: " + ", ".join(f"{e:.4f}" for e in errors))


def print_cas_margin(runs: list[dict]) -> None:
    """Each seed's CAS against its line in BAR with the noise of its classifiers: the mean over
    them of generated minus the line drawn from real, and that mean's standard error.
    Classifier i of either side trains with the same seed, so the difference is paired."""
    readings = [r.get("cas_readings", {}) for r in runs]
    pairs = [list(zip(c.get("generated", []), c.get("real", []))) for c in readings]
    if not all(len(p) > 1 for p in pairs):
        return  # one classifier a side (or CAS not read): no noise to weigh
    line_of = next(line for _, name, line in BAR if name == "cas")
    cells = []
    for p in pairs:
        margins = [g - line_of(r) for g, r in p]
        error = statistics.stdev(margins) / len(margins) ** 0.5
        cells.append(f"{statistics.fmean(margins):+.4f} ± {error:.4f}")
    print(
        f"\nCAS above its line (real - 1 pt), mean ± standard error over {len(pairs[0])} classifiers "
        "a side, classifier i of each side with the same seed: " + ", ".join(cells)
    )


def print_time_to_quality(results: dict[str, list[dict]]) -> None:
    print("\n### time to quality (in-training scores: mean over seeds, worst in brackets)\n")
    print("| variant | step | digits seen | minutes of training | accuracy | FID |")
    print("| --- | --- | --- | --- | --- | --- |")
    for variant, runs in results.items():
        batch = batch_of(variant)
        by_step: dict[int, list[dict]] = {}
        for r in runs:
            for row in r["progress"]:
                by_step.setdefault(int(row["step"]), []).append(row)
        for step in sorted(by_step):
            rows = by_step[step]
            acc = [row["accuracy"] for row in rows]
            fid = [row["fid"] for row in rows]
            minutes = statistics.fmean(row["minutes"] for row in rows)
            print(
                f"| {variant} | {step} | {step * batch:,} | {minutes:.2f} "
                f"| {statistics.fmean(acc):.1%} ({min(acc):.1%}) "
                f"| {statistics.fmean(fid):.2f} ({max(fid):.2f}) |"
            )
        firsts = [first_read(r["progress"]) or "never" for r in runs]
        print(f"| {variant} | {TIME_GOAL_LABEL} first reached | | | " + "; ".join(firsts) + " | |")


def seed_summary(variant: str, result: dict) -> str:
    """One line for a finished run, printed as it finishes: the figures a screen is judged by,
    there even if the benchmark is stopped before its report."""
    m = result["metrics"]
    scores = ", ".join(
        f"{name} {m[key]:{spec}}"
        for name, key, spec in (
            ("FID", "fid", ".4f"),
            ("precision", "precision", ".4f"),
            ("recall", "recall", ".4f"),
            ("accuracy", "accuracy", ".2%"),
            ("CAS", "cas", ".4f"),
        )
        if key in m
    )
    last = (result["progress"] or [None])[-1]
    trained = (
        f"{last['minutes']:.2f} min of training to step {last['step']}" if last else "no in-training scores"
    )
    read = first_read(result["progress"])
    first = f"{TIME_GOAL_LABEL} first at {read}" if read else f"{TIME_GOAL_LABEL} never reached"
    return f"{variant} seed {result['seed']}: {scores}; {trained}; {first}"


def first_read(progress: list[dict[str, float]]) -> str | None:
    """Where a run first read the time goal's accuracy in training, as its step and minutes;
    None if it never did."""
    hit = first_reached(progress)
    return f"step {hit['step']:.0f} ({hit['minutes']:.2f} min)" if hit else None


def first_reached(progress: list[dict[str, float]], accuracy: float = TIME_GOAL_ACCURACY) -> dict | None:
    """The first in-training score at or above ``accuracy``, or None."""
    return next((row for row in progress if row["accuracy"] >= accuracy), None)


def _ct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def memorisation_rows(block: dict[str, Any]) -> list[str]:
    """Table rows of evaluate.py's memorisation block: C_T and the share per space, and the flag,
    for the generator beside its two references (unseen test digits, training digits)."""

    def cells(key: str, space: str = "") -> list[str]:
        out = []
        for row in ("generated", "held_out_test_digits", "training_digits"):
            value = block[row][space][key] if space else block[row][key]
            if isinstance(value, bool):
                out.append("yes" if value else "no")
            elif value is None:
                out.append("n/a")
            else:
                out.append(f"{value:.1%}" if key.startswith("share") else f"{value:.2f}")
        return out

    lines = []
    closest = f"closer than the closest {block['closest_share_of_test']:.0%} of test digits"
    for name, key, space in [
        ("memorisation C_T, pixels", "c_t", "pixels"),
        ("memorisation C_T, features", "c_t", "features"),
        (f"{closest}, pixels", "share_closer_than_closest_test", "pixels"),
        (f"{closest}, features", "share_closer_than_closest_test", "features"),
        (f"copying flagged (C_T < {block['flag_below']:g})", "flagged", ""),
    ]:
        generated, test, train = cells(key, space)
        lines.append(f"| {name} | {generated} | {test} (test digits); {train} (training digits) |")
    return lines


def print_recall_per_class(results: dict[str, list[dict]]) -> None:
    """evaluate.py's recall of each class's real test digits per seed: where the digits a
    generator leaves out lie, and whether the same classes lose them on every seed."""
    if not all(r.get("recall_per_class") for runs in results.values() for r in runs):
        return
    print("\n### recall per class (of its real test digits; real: the training digits')")
    for variant, runs in results.items():
        seeds = seeds_of(runs)
        print(f"\n#### {variant}\n")  # a table of its own: Markdown joins adjacent rows
        print("| class | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | worst | real data |")
        print("| --- |" + " --- |" * (len(runs) + 3))
        for name in runs[0]["recall_per_class"]:
            values = [r["recall_per_class"][name]["generated"] for r in runs]
            if None in values:
                continue  # no test digit of that class: no recall on either side
            reals = [r["recall_per_class"][name]["real"] for r in runs]
            cells = " | ".join(f"{v:.3f}" for v in values)
            print(
                f"| {name} | {cells} | {statistics.fmean(values):.3f} | {worst('recall', values):.3f} "
                f"| {statistics.fmean(reals):.3f} |"
            )


def print_memorisation(results: dict[str, list[dict]]) -> None:
    """evaluate.py's copying check: C_T per seed, and the first seed beside the check's two references."""
    first = next(iter(results.values()))[0]["memorisation"]
    if not first:
        return
    print(f"\n### memorisation (C_T below {first['flag_below']:g} flags copying)\n")
    print("| variant | seed | C_T pixels | C_T features | flagged |")
    print("| --- | --- | --- | --- | --- |")
    for variant, runs in results.items():
        for seed, r in zip(seeds_of(runs), runs):
            g = r["memorisation"]["generated"]
            print(
                f"| {variant} | {seed} | {_ct(g['pixels']['c_t'])} | {_ct(g['features']['c_t'])} "
                f"| {'yes' if g['flagged'] else 'no'} |"
            )
    for variant, runs in results.items():
        print(f"\n| {variant}, seed {seeds_of(runs)[0]} | generated | references |")
        print("| --- | --- | --- |")
        print("\n".join(memorisation_rows(runs[0]["memorisation"])))


# The quality bar: (label, metric, its line from the seed's own real-data reference); FID's
# line is a ceiling (LOWER_IS_BETTER). The slow test of tests/test_quality.py reads it too.
BAR: list[tuple[str, str, Callable[[float], float]]] = [
    ("accuracy >= real - 0.5 pt", "accuracy", lambda r: r - 0.005),
    ("FID <= 1.5 x floor", "fid", lambda r: 1.5 * r),
    ("precision >= 0.87", "precision", lambda r: 0.87),
    ("recall >= 0.90", "recall", lambda r: 0.90),
    ("CAS >= real - 1 pt", "cas", lambda r: r - 0.01),
    ("classifier score >= real - 0.15", "classifier_score", lambda r: r - 0.15),
    # A reader the GAN never trained against agrees. 3 pt, not less: at 1,000 digits read
    # about 90 % right, one score's sampling noise is about 1 pt, and the worst of three
    # seeds of a generator as readable as real digits would miss 2 pt one time in six.
    ("independent reader >= real - 3 pt", "independent_accuracy", lambda r: r - 0.03),
]


def meets(name: str, value: float, line: float) -> bool:
    """Whether ``value`` of metric ``name`` is on the right side of ``line`` (under it for FID)."""
    return value <= line if name in LOWER_IS_BETTER else value >= line


def print_goals(results: dict[str, list[dict]]) -> None:
    """The quality bar, judged on the worst seed of each variant."""
    print("\n### the quality bar, worst seed\n")
    print("| goal | " + " | ".join(results) + " |")
    print("| --- |" + " --- |" * len(results))
    for label, name, line_of in BAR:
        cells = []
        for runs in results.values():
            if name not in runs[0]["metrics"]:
                cells.append("n/a")
                continue
            # Each seed against the line from its own references (CAS's move with the seed):
            # the cell shows the seed furthest below its line, or above it for FID.
            lower = name in LOWER_IS_BETTER
            sign = -1.0 if lower else 1.0
            run = min(runs, key=lambda r: sign * (r["metrics"][name] - line_of(r["references"][name])))
            value, line = run["metrics"][name], line_of(run["references"][name])
            verdict = "yes" if meets(name, value, line) else "no"
            cells.append(f"{verdict} ({value:.4f}; line {'<=' if lower else '>='} {line:.4f})")
        print(f"| {label} | " + " | ".join(cells) + " |")
    times = " | ".join(_time_goal(runs) for runs in results.values())
    print(f"| {TIME_GOAL_LABEL} accuracy in training <= {TIME_GOAL_MINUTES:g} min | {times} |")


def _time_goal(runs: list[dict]) -> str:
    """The time goal on the worst seed: the latest first 95 %, in minutes of training."""
    if not all(r.get("progress") for r in runs):
        return "n/a"  # scored with --eval-every beyond the run: no in-training scores
    hits = [first_reached(r["progress"]) for r in runs]
    if any(hit is None for hit in hits):
        return "no (never)"
    slowest = max(hit["minutes"] for hit in hits if hit)
    return f"{'yes' if slowest <= TIME_GOAL_MINUTES else 'no'} ({slowest:.2f} min)"


def print_cost(results: dict[str, list[dict]], cls_seconds: float, cls_out: str) -> None:
    """What the runs cost: wall time, training time (in all and per 1,000 steps), start-up, peak memory."""
    accuracy = re.search(r"test accuracy: ([\d.]+%)", cls_out)
    print("\n### cost\n")
    print(
        f"classifier: {cls_seconds / 60:.1f} min, peak memory {PEAK_MB['classifier']:,.0f} MB, "
        f"test accuracy {accuracy.group(1) if accuracy else 'not printed'}"
    )
    print(
        "\n| variant | train.py wall min | minutes of training | training min per 1,000 steps "
        "| start-up s | peak MB: train.py | evaluate.py |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for variant, runs in results.items():
        for seed, r in zip(seeds_of(runs), runs):
            last = r["progress"][-1] if r["progress"] else None
            total = f"{last['minutes']:.2f}" if last else "n/a"
            per_k = f"{1000 * last['minutes'] / last['step']:.2f}" if last else "n/a"
            train_mb, eval_mb = (
                PEAK_MB[f"gan {variant} seed {seed}"],
                PEAK_MB[f"evaluate {variant} seed {seed}"],
            )
            print(
                f"| {variant} seed {seed} | {r['seconds'] / 60:.1f} | {total} | {per_k} | {r['startup']:.0f} "
                f"| {train_mb:,.0f} | {eval_mb:,.0f} |"
            )


def _cpu_name() -> str:
    """The CPU's model name (figures belong to a machine), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> int:
    parser = flags.Parser(
        description=__doc__, epilog=variants_help(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", default="datasets/MNIST-5k", help="any dataset train.py takes (default: %(default)s)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DEMO_STEPS,
        help="GAN generator steps of the default batch (default: %(default)s, the demo's); a variant "
        "with another batch takes as many digits; "
        f"{', '.join(f'{v} {share}' for v, share in LENGTH.items())} of the steps",
    )
    parser.add_argument("--seeds", type=int, default=3, help="GAN seeds per variant (default: %(default)s)")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="the first of them: seeds FIRST..FIRST+N-1, e.g. a third seed of a screen run on two "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--variants",
        default="default,previous",
        help="comma-separated, from the list below (default: %(default)s)",
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=250,
        help="in-training scores, in steps of the default batch (default: %(default)s)",
    )
    parser.add_argument("--classifier-epochs", type=int, default=20, help="(default: %(default)s)")
    parser.add_argument(
        "--cas-readings",
        type=int,
        default=8,
        help="classifiers trained on each side for CAS (evaluate.py --cas-readings; default: "
        "%(default)s: one classifier's CAS moves by about half a point with its seed, as much as "
        "the distance to the line)",
    )
    parser.add_argument(
        "--num-samples",
        type=int,
        default=72_000,
        help="generated digits scored; scores that change with the sample size take sets of as many "
        "as the training split holds: FID and precision/recall the mean over every whole set, CAS "
        "the first (default: %(default)s: 18 sets of the 5k sample's 4,000; one set's FID moves "
        "by about a tenth of its value with the noise drawn)",
    )
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
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants or args.seeds < 1 or args.steps < 1 or args.eval_every < 1:
        parser.error(f"variants from {', '.join(VARIANTS)}; --seeds, --steps and --eval-every >= 1")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be >= 0, got {args.first_seed}")
    # Absolute before the runs start: they run from the repository's root. The default data
    # is the repository's; a path given is the user's, from where they are.
    data = Path(args.data_dir)
    if not data.is_absolute():
        data = ROOT / data if args.data_dir == parser.get_default("data_dir") else Path.cwd() / data
    if not data.exists():
        parser.error(f"--data-dir {data}: no such folder")
    args.data_dir = str(data)
    if args.work is not None and args.work.is_file():
        parser.error(f"--work {args.work}: is a file; pass an empty or a new folder")
    if args.work is not None and args.work.exists() and any(args.work.iterdir()):
        # The scripts would resume its runs and this script print their old scores as new.
        parser.error(f"--work {args.work}: holds earlier runs; pass an empty or a new folder")
    if args.classifier_epochs < 1 or args.num_samples < limits.MIN_EVAL_SAMPLES:
        parser.error(f"--classifier-epochs >= 1 and --num-samples >= {limits.MIN_EVAL_SAMPLES}")
    try:
        limits.check_value("--cas-readings", args.cas_readings, EvaluateConfig.RANGES["cas_readings"])
    except ConfigError as e:
        parser.error(f"{e}, as evaluate.py takes it")
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="mnist-gan-quality-"))
    cls = work / "classifier"
    cls_seconds, cls_out = run(
        "classifier",
        "classifier.py",
        *("--data-dir", args.data_dir, "--save-dir", str(cls), "--log-dir", str(work / "logs")),
        *("--epochs", str(args.classifier_epochs)),
    )
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    results: dict[str, list[dict]] = {v: [] for v in variants}
    # Seed by seed, variants back to back: the drift of a shared machine hits them alike.
    for seed in seeds:
        for variant in variants:
            results[variant].append(train_and_score(args, work, cls, variant, seed))
            print(seed_summary(variant, results[variant][-1]), flush=True)

    print(f"\nmachine: {_cpu_name()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}")
    used = sorted({r["precision"] for runs in results.values() for r in runs})
    print(f"GAN runs' {'; '.join(used)}")
    print(
        f"budget: classifier {args.classifier_epochs} epochs ({cls_seconds / 60:.1f} min), GAN {args.steps} "
        f"steps of {DEFAULT_BATCH} digits or as many digits in other batches (--mixed-precision "
        f"{args.mixed_precision}), seeds {seeds}, {args.num_samples} generated "
        f"digits scored, CAS from {args.cas_readings} classifiers a side; {describe_variants(variants)}"
    )
    print_metrics(results)
    print_time_to_quality(results)
    print_recall_per_class(results)
    print_memorisation(results)
    print_goals(results)
    print_cost(results, cls_seconds, cls_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
