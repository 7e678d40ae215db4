"""The benchmarks run: throughput's FLOP count agrees with the traced graph and it profiles;
quality aggregates seeds into mean and worst and judges the bar on the worst."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, benchmark_module, printed, run_script

from mnist_gan.runtime import precision

# bfloat16 is emulated (and slow) on CPUs without native units: compare two float32 variants there.
NATIVE_BF16 = bool(precision.cpu_bf16_flags())
SECOND = ("bfloat16", "mixed_bfloat16") if NATIVE_BF16 else ("off", "float32")


def test_throughput_benchmark_compares_variants(sample_dir: Path) -> None:
    result = run_script(
        "benchmarks/throughput.py",
        "--data-dir",
        str(sample_dir),
        "--batch-size",
        "32",
        "--variants",
        f"off:1,{SECOND[0]}:2,off:1:critic_stddev_group=4,off:1:gp_every=1,off:1:critic_consistency=0,"
        "off:1:gen_noise_weights=shared",
        "--iterations",
        "4",
        "--repeats",
        "1",
        "--profile",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"ceiling +float32: matmul 2048x2048 +[\d.]+ GFLOP/s; conv", out)
    # The bfloat16 ceiling is measured when, and only when, a variant computes in it.
    assert bool(re.search(r"ceiling bfloat16: matmul", out)) == NATIVE_BF16
    assert float(printed(r"input pipeline alone: ([\d,]+) images/s", out).replace(",", "")) > 0
    # The analytic count is of the conv and dense layers; the traced graph holds those ops
    # plus a few gradients that are pruned at run time: a little more, never less.
    line = r"1 generator update\): ([\d.]+) GFLOP.* add up to ([\d.]+) GFLOP.*; (.+)$"
    counts = re.findall(line, out, re.M)
    assert [config for *_, config in counts] == [
        "defaults",
        "critic_stddev_group=4",
        "gp_every=1",
        "critic_consistency=0.0",
        "gen_noise_weights=shared",
    ]
    for analytic, traced, _ in counts:  # one per model
        assert float(analytic) <= float(traced) <= 1.15 * float(analytic)
    # The standard deviation adds a feature map to the critic's last convolution: more FLOPs.
    assert float(counts[1][0]) > float(counts[0][0])
    # The penalty on every critic update costs more than the defaults' lazy one, in both counts
    # (the traced one would miss the lazy penalty's share: its ops sit inside a conditional).
    assert float(counts[2][0]) > float(counts[0][0]) and float(counts[2][1]) > float(counts[0][1])
    # The defaults' consistency puts two more batches through the critic and back: without it,
    # less in both counts.
    assert float(counts[0][0]) > 1.2 * float(counts[3][0]) and float(counts[0][1]) > 1.2 * float(counts[3][1])
    # The defaults' first layer of each class's own is a large matrix on the noise: its forward
    # pass and weight gradient count, its input gradient (never built) does not.
    assert float(counts[0][0]) > float(counts[4][0]) and float(counts[0][1]) > float(counts[4][1])
    rows = re.findall(r"^ *(float32|mixed_bfloat16) +(\d+) +([\d.]+) .* ([\d.]+)x  (.+)$", out, re.M)
    assert [(p, spc, config) for p, spc, _, _, config in rows] == [
        ("float32", "1", "defaults"),
        (SECOND[1], "2", "defaults"),
        ("float32", "1", "critic_stddev_group=4"),
        ("float32", "1", "gp_every=1"),
        ("float32", "1", "critic_consistency=0.0"),
        ("float32", "1", "gen_noise_weights=shared"),
    ]
    assert rows[0][3] == "1.00" and float(rows[1][3]) > 0  # speed-ups relative to the first
    # benchmarks/onednn.py reads this table from one process per setting.
    table, onednn = benchmark_module("onednn").read_table(out)
    assert [ms for _, ms in table] == [float(ms) for _, _, ms, _, _ in rows]
    assert table[0][0] == "float32:1 defaults" and table[3][0] == "float32:1 gp_every=1"
    assert onednn == "on"  # the benchmark asks for oneDNN, as train.py does
    # The profile: convolutions are most of the op time of this model in either precision.
    for policy in dict.fromkeys(("float32", SECOND[1])):
        share = float(printed(rf"{policy}: convolutions (\d+)%", out))
        assert 20 <= share <= 100, policy


@pytest.mark.parametrize(
    ("variant", "named"),
    [
        ("auto:50:critic_stddev_groop=4", "did you mean 'critic_stddev_group'"),
        ("auto:50:critic_stddev_group=four", "'critic_stddev_group' must be int"),
        ("auto:0", "steps per call must be a whole number >= 1"),
        ("float8:50", "unknown precision 'float8'"),
        ("auto:50:gen_width", "'gen_width' in 'auto:50:gen_width' is not KEY=VALUE"),
        ("off:1:mixed_precision=bfloat16", "mixed_precision in 'off:1:mixed_precision=bfloat16' is set by"),
        # images/s and the speed-up compare iterations of one batch
        ("off:1:batch_size=32", "the batch is one for every variant; pass --batch-size"),
    ],
)
def test_throughput_benchmark_refuses_a_bad_variant_before_it_builds_anything(
    variant: str, named: str
) -> None:
    result = run_script("benchmarks/throughput.py", "--variants", f"off:1,{variant}", timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --variants: ") and named in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_throughput_variants_keep_commas_inside_a_value() -> None:
    from mnist_gan import configs
    from mnist_gan.runtime import config

    spec = "off:1,auto:50:critic_augment=translation,cutout:gen_width=96,auto"
    throughput = benchmark_module("throughput")
    found = throughput.parse_variants(spec, config.defaults(configs.GanConfig))
    assert [(v.mode, v.steps_per_call, v.settings) for v in found] == [
        ("off", 1, ()),
        ("auto", 50, (("critic_augment", "translation,cutout"), ("gen_width", 96))),
        ("auto", 1, ()),
    ]
    assert throughput.describe(found[1].settings) == "critic_augment=translation,cutout gen_width=96"


def test_a_failed_end_to_end_run_is_train_pys_error_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from mnist_gan import configs
    from mnist_gan.runtime import config

    throughput = benchmark_module("throughput")
    base = config.defaults(configs.GanConfig).replace(data_dir=str(tmp_path))  # an empty folder
    with pytest.raises(SystemExit) as info:
        throughput.end_to_end(base, throughput.Variant("auto", 50), 2)
    assert info.value.code == 2  # train.py's own status for a user error
    said = capsys.readouterr().err
    assert said.startswith("error: the end-to-end run of train.py failed: error: ")
    assert str(tmp_path) in said and len(said.strip().splitlines()) == 1


def test_quality_benchmark_reads_progress_and_judges_the_worst_seed(capsys: pytest.CaptureFixture) -> None:
    quality = benchmark_module("quality")
    out = "gan: 10%|\nstep 250 (0.50 min of training): fid 40.1, fid_floor 2.4, accuracy 0.9\n"
    assert quality.progress(out) == [
        {"step": 250, "minutes": 0.5, "fid": 40.1, "fid_floor": 2.4, "accuracy": 0.9}
    ]
    assert quality.worst("fid", [3.0, 5.0]) == 5.0 and quality.worst("accuracy", [0.9, 0.8]) == 0.8
    ref = {
        "fid": 2.0,
        "accuracy": 0.98,
        "precision": 0.9,
        "recall": 0.9,
        "cas": 0.95,
        "classifier_score": 9.5,
        "independent_accuracy": 0.9,
    }
    good = {
        "fid": 2.5,
        "accuracy": 0.979,
        "precision": 0.9,
        "recall": 0.95,
        "cas": 0.95,
        "classifier_score": 9.4,
        "independent_accuracy": 0.88,
    }
    # One seed over 1.5 x the floor fails the bar for the variant; so does one the independent
    # reader reads more than 3 points worse than real digits.
    bad = {**good, "fid": 3.5, "independent_accuracy": 0.86}
    # The time goal is the slowest seed's first 95 % in training; a seed that never gets
    # there fails it, and a run scored only at its end cannot be judged on it.
    fast = [{"step": 250, "minutes": 0.7, "accuracy": 0.94}, {"step": 500, "minutes": 1.4, "accuracy": 0.96}]
    slow = [{"step": 500, "minutes": 1.6, "accuracy": 0.951}]
    never = [{"step": 500, "minutes": 1.0, "accuracy": 0.9}]
    quality.print_goals(
        {
            "v": [
                {"metrics": good, "references": ref, "progress": fast},
                {"metrics": bad, "references": ref, "progress": slow},
            ],
            "w": [{"metrics": good, "references": ref, "progress": fast}],
            "x": [{"metrics": good, "references": ref, "progress": never}],
            "y": [{"metrics": good, "references": ref, "progress": []}],
        }
    )
    table = capsys.readouterr().out
    times = "| no (1.60 min) | yes (1.40 min) | no (never) | n/a |"
    assert f"| 95 % accuracy in training <= 1.5 min {times}" in table
    assert "| FID <= 1.5 x floor | no (3.5000; line <= 3.0000) |" in table
    assert "| accuracy >= real - 0.5 pt | yes (0.9790; line >= 0.9750) |" in table
    assert "| independent reader >= real - 3 pt | no (0.8600; line >= 0.8700) |" in table
    # Every metric evaluate.py wrote is printed per seed beside its reference, the new one too.
    quality.print_metrics({"v": [{"metrics": good, "references": ref}]})
    assert "| independent_accuracy | 0.8800 | 0.8800 | 0.8800 | 0.9000 |" in capsys.readouterr().out

    # CAS's reference moves with the seed (it trains a classifier per seed): each seed is held
    # to its own, so a seed below its own line fails though it is above another seed's.
    first = {"metrics": {**good, "cas": 0.945}, "references": {**ref, "cas": 0.948}, "progress": fast}
    second = {"metrics": {**good, "cas": 0.950}, "references": {**ref, "cas": 0.965}, "progress": fast}
    quality.print_goals({"v": [first, second]})
    assert "| CAS >= real - 1 pt | no (0.9500; line >= 0.9550) |" in capsys.readouterr().out
    quality.print_metrics({"v": [first, second]})
    assert "| cas | 0.9450 | 0.9500 | 0.9475 | 0.9450 | 0.9480–0.9650 |" in capsys.readouterr().out

    # Each run's line as it finishes: its scores, its minutes of training, its first 95 %.
    line = quality.seed_summary("v", {"seed": 2, "metrics": good, "progress": fast})
    assert line == (
        "v seed 2: FID 2.5000, precision 0.9000, recall 0.9500, accuracy 97.90%, CAS 0.9500; "
        "1.40 min of training to step 500; 95 % first at step 500 (1.40 min)"
    )
    line = quality.seed_summary("v", {"seed": 0, "metrics": {"fid": 9.0}, "progress": never})
    assert line == "v seed 0: FID 9.0000; 1.00 min of training to step 500; 95 % never reached"
    quality.PEAK_MB.update({"classifier": 900.0, "gan v seed 0": 1500.0, "evaluate v seed 0": 2048.0})
    run = {"seconds": 600.0, "startup": 12.0, "progress": quality.progress(out.replace("250", "500"))}
    quality.print_cost({"v": [run]}, 120.0, "test accuracy: 98.10% after 9 steps")
    cost = capsys.readouterr().out
    assert "classifier: 2.0 min, peak memory 900 MB, test accuracy 98.10%" in cost
    assert "| v seed 0 | 10.0 | 0.50 | 1.00 | 12 | 1,500 | 2,048 |" in cost  # 0.5 min for 500 steps


def test_quality_benchmark_prints_recall_per_class_per_seed(capsys: pytest.CaptureFixture) -> None:
    quality = benchmark_module("quality")

    def recall(zero: float, one: float | None) -> dict:
        return {"0": {"generated": zero, "real": 0.94}, "1": {"generated": one, "real": 0.9}}

    quality.print_recall_per_class(
        {"v": [{"recall_per_class": recall(0.8, 0.9)}, {"recall_per_class": recall(0.9, 0.7)}]}
    )
    table = capsys.readouterr().out
    assert "#### v\n\n| class | seed 0 | seed 1 | mean | worst | real data |" in table
    assert "| 0 | 0.800 | 0.900 | 0.850 | 0.800 | 0.940 |" in table  # the worst is the lowest
    assert "| 1 | 0.900 | 0.700 | 0.800 | 0.700 | 0.900 |" in table
    # A class without test digits has no recall to print; evaluations from before the
    # per-class reading leave the table out rather than print an empty one.
    quality.print_recall_per_class({"v": [{"recall_per_class": recall(0.8, None)}]})
    table = capsys.readouterr().out
    assert "| 0 | 0.800 | 0.800 | 0.800 | 0.940 |" in table and "| 1 |" not in table
    quality.print_recall_per_class({"v": [{"recall_per_class": {}}]})
    assert capsys.readouterr().out == ""


def test_quality_benchmark_weighs_each_seeds_reading_by_its_sets(capsys: pytest.CaptureFixture) -> None:
    quality = benchmark_module("quality")

    def sets(*fid: float) -> dict:
        return {"size": 4000, "fid": list(fid), "precision": [0.88] * len(fid), "recall": [0.87, 0.89, 0.88]}

    # The standard error of each seed's mean over its sets: the noise of the reading itself.
    quality.print_reading_noise([{"per_set": sets(1.0, 1.2, 1.4)}, {"per_set": sets(1.3, 1.3, 1.3)}])
    out = capsys.readouterr().out
    assert "standard error over each seed's 3 sets of 4,000" in out
    assert "  fid: 0.1155, 0.0000\n" in out and "  precision: 0.0000, 0.0000\n" in out
    assert "  recall: 0.0058, 0.0058\n" in out
    # One set a seed (a sample no larger than the split), or an evaluation from before sets
    # were written: no noise to weigh, nothing printed.
    quality.print_reading_noise([{"per_set": {"size": 50, "fid": [2.0]}}, {"per_set": sets(1.0, 1.2, 1.4)}])
    quality.print_reading_noise([{}])
    assert capsys.readouterr().out == ""
    # The benchmark prints it under each variant's table, from what train_and_score kept.
    metrics = {"fid": 1.2, "precision": 0.88, "recall": 0.88}
    quality.print_metrics(
        {"v": [{"metrics": metrics, "references": metrics, "per_set": sets(1.0, 1.2, 1.4)}]}
    )
    table, noise = capsys.readouterr().out.split("the reading's own noise")
    assert "| fid | 1.2000 |" in table and "  fid: 0.1155\n" in noise


def test_quality_benchmark_weighs_cas_by_its_classifiers(capsys: pytest.CaptureFixture) -> None:
    quality = benchmark_module("quality")
    # Seed 0 on its line to within its classifiers' noise, seed 1 a point over it; classifier
    # i of either side shares its seed, so the margin is read pair by pair.
    runs = [
        {"cas_readings": {"generated": [0.960, 0.950], "real": [0.970, 0.964]}},
        {"cas_readings": {"generated": [0.97, 0.97, 0.97], "real": [0.97, 0.96, 0.98]}},
    ]
    quality.print_cas_margin(runs)
    out = capsys.readouterr().out
    assert "over 2 classifiers a side" in out
    assert ": -0.0020 ± 0.0020, +0.0100 ± 0.0058\n" in out
    # One classifier a side, CAS not read, or an evaluation from before readings were kept.
    quality.print_cas_margin([{"cas_readings": {"generated": [0.96], "real": [0.97]}}])
    quality.print_cas_margin([{}])
    assert capsys.readouterr().out == ""


def test_quality_benchmark_variants_are_flags_train_py_takes() -> None:
    from mnist_gan.configs import GanConfig
    from mnist_gan.runtime.config import defaults
    from mnist_gan.runtime.flags import parse_args

    quality = benchmark_module("quality")
    made = {name: parse_args(GanConfig, flags, "")[0] for name, flags in quality.VARIANTS.items()}
    default = made["default"]
    assert default == defaults(GanConfig)
    # Each step back changes what the defaults train with; none is the same run as another
    # but 'class-noise' and 'slim-seeking', older defaults spelt out.
    runs = {(repr(cfg), quality.run_steps(4500, name)) for name, cfg in made.items()}
    assert len(runs) == len(made) - 2
    # Each is described in --help, in one line of its own.
    assert list(quality.ABOUT) == list(quality.VARIANTS)
    grouped = [name for names in quality.GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(quality.VARIANTS) and len(grouped) == len(set(grouped))
    listed = quality.variants_help().splitlines()
    assert all(any(line.startswith(f"  {name} ") for line in listed) for name in quality.VARIANTS)
    # The previous defaults: the critic without a bias of each class's own, today's 4,500 steps.
    previous = made["previous"]
    assert default.critic_class_bias and previous == default.replace(critic_class_bias=False)
    assert quality.run_steps(4500, "previous") == 4500
    # Before them: the weight average's decay capped at 0.999 too.
    long_average = made["long-average"]
    assert default.ema_decay == 0.9965 and long_average == previous.replace(ema_decay=0.999)
    assert made["class-noise"] == long_average and quality.run_steps(4500, "long-average") == 4500
    # Before them: the first layer's weights shared by every class, the mode-seeking term at 0.005.
    shared = made["shared-noise"]
    assert (default.gen_noise_weights, default.gen_mode_seeking) == ("per_class", 0.0)
    assert shared == long_average.replace(gen_noise_weights="shared", gen_mode_seeking=0.005)
    assert made["slim-seeking"] == shared and quality.run_steps(4500, "shared-noise") == 4500
    # The defaults before those: 64 filters wide, no mode-seeking term, 3,000 steps of 4,500.
    wide = made["wide"]
    assert (wide.critic_width, wide.gen_width, wide.gen_mode_seeking) == (64, 64, 0.0)
    assert (default.critic_width, default.gen_width) == (48, 48)
    assert wide.replace(critic_width=48, gen_width=48, gen_mode_seeking=0.005) == shared
    assert quality.run_steps(4500, "wide") == 3000 and quality.run_steps(4500, "default") == 4500
    # ... and before them, each a step further back, all at the 'wide' defaults' length.
    assert made["no-consistency"].critic_consistency == 0.0 and default.critic_consistency == 1.0
    assert made["no-consistency"].critic_spectral_norm and not default.critic_spectral_norm
    assert made["no-consistency"].replace(critic_consistency=1.0, critic_spectral_norm=False) == wide
    assert made["no-consistency"].gp_every == default.gp_every == 4
    assert made["lazy"].gp_every == 1 and made["lazy"].critic_consistency == 0.0
    assert made["lazy"].gen_lr_early_steps == default.gen_lr_early_steps == 250
    assert made["earlier"].gen_lr_early_steps == 0 and made["earlier"].gp_every == 1
    assert made["earlier"].critic_consistency == 0.0 and made["earlier"].critic_spectral_norm
    assert default.gen_lr_early_factor == 2.0
    assert made["no-consistency"].critic_augment == default.critic_augment == "none"
    assert made["earlier"].critic_augment == "translation"
    assert made["no-consistency"].gp_center == default.gp_center == 0.0
    assert all(quality.run_steps(4500, v) == 3000 for v in ("no-consistency", "lazy", "earlier", "original"))
    # The levers sit on today's defaults, at their length.
    assert made["batch32"] == default.replace(batch_size=32) and default.batch_size == 64
    assert made["gp8"] == default.replace(gp_every=8) and quality.steps_for(4500, "gp8") == 4500
    assert made["orthogonal"] == default.replace(weight_init="orthogonal") and default.weight_init == "glorot"
    assert made["consistency-sn"] == default.replace(critic_spectral_norm=True)
    critic_space = made["seeking-critic"]
    assert critic_space == default.replace(gen_mode_seeking=0.025, gen_mode_seeking_space="critic")
    assert default.gen_mode_seeking_space == "images"
    assert made["noise-conditioning"] == default.replace(gen_conditioning="noise")
    assert default.gen_conditioning == "batchnorm"
    assert made["gen64-critic32"] == default.replace(gen_width=64, critic_width=32)
    assert made["class-noise-48"] == long_average.replace(gen_noise_weights_maps=48)
    assert default.gen_noise_weights_maps == 0 and 2 * default.gen_width == 96  # 48 of 96 maps
    assert made["class-mixing"] == default.replace(gen_class_mixing=True) and not default.gen_class_mixing
    assert made["low-end"] == default.replace(lr_decay_to=0.1) and default.lr_decay_to == 0.25
    # The report's header names the flags of the variants run, and only those.
    header = quality.describe_variants(["default", "gp8"])
    assert header == "default = train.py as configured; gp8 = train.py --gp-every 8"
    assert quality.describe_variants(["previous"]) == "previous = train.py --no-critic-class-bias"
    assert quality.describe_variants(["shared-noise"]) == (
        "shared-noise = train.py --gen-noise-weights shared --no-critic-class-bias --ema-decay 0.999 "
        "--gen-mode-seeking 0.005"
    )
    assert quality.describe_variants(["wide"]) == (
        "wide = train.py --gen-noise-weights shared --no-critic-class-bias --ema-decay 0.999 "
        "--critic-width 64 --gen-width 64 --gen-mode-seeking 0 for 2/3 of the steps"
    )
    # A variant with another batch sees as many digits: half the batch, twice the steps.
    assert quality.steps_for(4500, "default") == 4500 and quality.steps_for(4500, "batch32") == 9000
    assert quality.run_steps(4500, "batch128") == 2250 and made["batch128"].batch_size == 128
    assert quality.steps_for(250, "wide") == quality.steps_for(250, "lazy") == 250
    assert quality.run_steps(4500, "batch32") == 9000 and set(quality.LENGTH) <= set(quality.VARIANTS)
    # The candidates that led to the defaults before: the 'wide' ones 1.5 times as long, with
    # the mode-seeking term, then slimmed; each at today's length, scored as often as the rest.
    assert made["longer"] == wide and quality.run_steps(4500, "longer") == 4500
    assert made["longer-seeking"] == wide.replace(gen_mode_seeking=0.005)
    assert made["slim-seeking"] == made["longer-seeking"].replace(critic_width=48, gen_width=48)
    args = argparse.Namespace(
        steps=4500, eval_every=125, data_dir="d", num_samples=100, mixed_precision="auto"
    )
    asked = quality.train_args(args, Path("w"), Path("c"), "wide", 1)
    assert asked[asked.index("--steps") + 1] == "3000" and asked[asked.index("--eval-every") + 1] == "125"
    assert asked[-2:] == ["--gen-mode-seeking", "0"] and asked[asked.index("--seed") + 1] == "1"
    assert made["earlier"].gp_center == 1.0 and made["earlier"].gen_conditioning == "input"
    assert made["earlier"].beta_1 == 0.5


def test_the_demo_length_is_the_same_in_the_demo_the_benchmark_and_the_slow_test() -> None:
    # Written in three files, twice in the script (a shell script cannot import it): a change
    # to one alone would leave the benchmark or the slow test measuring a demo nobody runs.
    import test_quality

    script = (ROOT / "scripts" / "demo.sh").read_text()
    demo = re.search(r"steps=\$\{GAN_STEPS:-(\d+)\}", script)
    told = re.search(r"GAN_STEPS \((\d+)\)", script)  # its header, for a quick try
    assert demo is not None and told is not None, "scripts/demo.sh no longer says GAN_STEPS as it did"
    assert (
        int(demo.group(1))
        == int(told.group(1))
        == benchmark_module("quality").DEMO_STEPS
        == test_quality.FULL_STEPS
    )


@pytest.mark.slow
def test_quality_benchmark_reports_seeds_worst_and_time_to_quality(sample_dir: Path, tmp_path: Path) -> None:
    result = run_script(
        "benchmarks/quality.py",
        *("--data-dir", str(sample_dir), "--work", str(tmp_path)),
        *("--steps", "4", "--eval-every", "2", "--seeds", "2", "--first-seed", "1"),
        *("--variants", "default,batch32"),
        *("--classifier-epochs", "1", "--num-samples", "50", "--mixed-precision", "off"),
        *("--cas-readings", "2"),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # CAS from two classifiers a side, and each seed's distance to its line from their pairs.
    assert "CAS from 2 classifiers a side" in out
    margin = r"[+-][\d.]+ ± [\d.]+"
    margins = re.findall(rf"over 2 classifiers a side, .*: ({margin}), ({margin})\n", out)
    assert len(margins) == 2, out  # one line under each variant's table
    # Per seed (1 and 2: --first-seed), mean and worst for every metric, for both variants.
    assert "seeds [1, 2]" in out and "| metric | seed 1 | seed 2 | mean | worst | real data |" in out
    assert "| class | seed 1 | seed 2 |" in out and "| default seed 2 |" in out
    assert "| default, seed 1 |" in out
    # Each run printed its line as it finished, and kept train.py's output beside it.
    assert re.search(
        r"^batch32 seed 2: FID [\d.]+, precision .*; [\d.]+ min of training to step 8; ", out, re.M
    )
    assert "step 8 (" in (tmp_path / "batch32-seed2" / "train-output.txt").read_text()
    for variant in ("default", "batch32"):
        row = printed(rf"### {variant}\n(?:.*\n){{3}}(\| fid \|.*)", out)
        values = [float(v) for v in row.strip("| ").split(" | ")[1:]]
        fids, mean, worst = values[:2], values[2], values[3]
        assert abs(mean - sum(fids) / 2) < 1e-3 and worst == max(fids)
    # In-training scores every 2 steps of the default batch of 64 (128 digits) over 4 such
    # steps; half the batch sees as many digits in twice the steps. Then the goals judged on
    # the worst seed.
    rows = re.findall(r"^\| (default|batch32) \| (\d+) \| ([\d,]+) \| [\d.]+ \| [\d.]+% \(", out, re.M)
    assert rows == [
        ("default", "2", "128"),
        ("default", "4", "256"),
        ("batch32", "4", "128"),
        ("batch32", "8", "256"),
    ]
    assert re.search(r"^\| FID <= 1\.5 x floor \| (yes|no) \(", out, re.M)
    # Recall per class, each seed as its evaluation wrote it, then the mean and the lowest.
    recalls = [
        json.loads((tmp_path / f"default-seed{s}" / "metrics.json").read_text())["per_class_recall"]
        for s in (1, 2)
    ]
    table = out.split("### recall per class")[1]
    for digit in ("0", "7"):
        seeds = [r[digit]["generated"] for r in recalls]
        expected = [*seeds, sum(seeds) / 2, min(seeds), recalls[0][digit]["real"]]
        row = printed(rf"#### default\n(?:.*\n)*?(\| {digit} \|.*)", table)
        assert [float(v) for v in row.strip("| ").split(" | ")[1:]] == pytest.approx(expected, abs=6e-4)
    # Four steps draw no readable digit: neither variant reaches 95 % in training.
    assert "| 95 % accuracy in training <= 1.5 min | no (never) | no (never) |" in out
    assert "GAN 4 steps of 64 digits" in out and "batch32 = train.py --batch-size 32" in out
    saved = (tmp_path / "batch32-seed2" / "gan" / "config-gan.yaml").read_text()
    assert "batch_size: 32" in saved and "steps: 8\n" in saved and "seed: 2\n" in saved
    assert not (tmp_path / "default-seed0").exists()


@pytest.mark.slow
def test_onednn_benchmark_times_the_step_with_onednn_off_and_on(sample_dir: Path) -> None:
    result = run_script(
        "benchmarks/onednn.py",
        *("--data-dir", str(sample_dir), "--rounds", "1", "--variants", "off:1"),
        *("--iterations", "2", "--repeats", "1", "--batch-size", "16"),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    own = r"^TensorFlow's own choice here \(TF_ENABLE_ONEDNN_OPTS unset\): oneDNN (on|off)$"
    assert re.search(own, out, re.M)
    # Each process ran as it was told: the variable reaches TensorFlow before it starts.
    timed = r"^round 1, TF_ENABLE_ONEDNN_OPTS=(\d) \(oneDNN (\w+)\): float32:1 defaults: [\d.]+ ms$"
    assert re.findall(timed, out, re.M) == [("0", "off"), ("1", "on")]
    median = r"^float32:1 defaults: median [\d.]+ ms with oneDNN off, [\d.]+ ms on: [\d.]+x as fast on$"
    assert re.search(median, out, re.M)


def test_optimizer_benchmark_times_both_adams_on_each_network() -> None:
    result = run_script("benchmarks/optimizer.py", "--updates", "1", "--repeats", "1", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(r"^ *(.+?) +([\d,]+) +([\d.]+) +([\d.]+) +([\d.]+)x$", result.stdout, re.M)
    assert [name for name, *_ in rows] == [
        "generator (defaults)",
        "generator (gen_noise_weights=shared)",
        "critic (defaults)",
    ]
    weights = [int(w.replace(",", "")) for _, w, *_ in rows]
    # The defaults' first layer of each class's own: about ten times the shared generator's weights.
    assert weights[0] > 5 * weights[1] > 0 and weights[2] > 0
    assert all(float(k) > 0 and float(f) > 0 for _, _, k, f, _ in rows)
    refused = run_script("benchmarks/optimizer.py", "--updates", "0", timeout=60)
    assert refused.returncode == 2 and "--updates and --repeats must be >= 1" in refused.stderr


def test_quality_benchmark_refuses_before_any_run(tmp_path: Path) -> None:
    (tmp_path / "work" / "default-seed0").mkdir(parents=True)  # an earlier benchmark's runs
    script = str(ROOT / "benchmarks" / "quality.py")
    for flags, message in (
        (["--work", str(tmp_path / "work")], f"error: --work {tmp_path / 'work'}: holds earlier runs"),
        (["--data-dir", "nowhere"], f"error: --data-dir {tmp_path / 'nowhere'}: no such folder"),
        (["--classifier-epochs", "0"], "error: --classifier-epochs >= 1 and --num-samples >= 20"),
        (["--cas-readings", "0"], "error: --cas-readings must be >= 1, got 0, as evaluate.py takes it"),
        (["--first-seed", "-1"], "error: --first-seed must be >= 0, got -1"),
    ):
        result = subprocess.run(
            [sys.executable, script, *flags], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
        assert result.stdout == ""
    assert list((tmp_path / "work").iterdir()) == [tmp_path / "work" / "default-seed0"]


def test_throughput_benchmark_refuses_bad_counts_and_a_missing_folder_in_one_line(tmp_path: Path) -> None:
    result = run_script(
        "benchmarks/throughput.py", "--repeats", "0", "--iterations", "-1", "--data-dir", "nowhere",
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"error: --iterations must be >= 1; --repeats must be >= 1; --data-dir {tmp_path / 'nowhere'}: "
        "no such folder\n"
    )
