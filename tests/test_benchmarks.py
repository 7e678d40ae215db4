"""The throughput benchmark runs, its FLOP count agrees with the traced graph, it profiles."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import printed, run_script


def test_throughput_benchmark_compares_variants(sample_dir: Path) -> None:
    result = run_script(
        "benchmarks/throughput.py",
        "--data-dir",
        str(sample_dir),
        "--batch-size",
        "32",
        "--variants",
        "off:1,bfloat16:2",
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
    assert re.search(r"ceiling bfloat16: matmul", out)  # measured because a variant uses it
    assert float(printed(r"input pipeline alone: ([\d,]+) images/s", out).replace(",", "")) > 0
    # The analytic count is of the conv and dense layers; the traced graph holds those ops
    # plus a few gradients that are pruned at run time: a little more, never less.
    analytic = float(printed(r"1 generator update\): ([\d.]+) GFLOP", out))
    traced = float(printed(r"traced graph add up to ([\d.]+) GFLOP", out))
    assert analytic <= traced <= 1.15 * analytic
    rows = re.findall(r"^ *(float32|mixed_bfloat16) +(\d+) +([\d.]+) .* ([\d.]+)x$", out, re.M)
    assert [(p, spc) for p, spc, *_ in rows] == [("float32", "1"), ("mixed_bfloat16", "2")]
    assert rows[0][3] == "1.00" and float(rows[1][3]) > 0  # speed-ups relative to the first
    # The profile: convolutions are most of the op time of this model in either precision.
    for policy in ("float32", "mixed_bfloat16"):
        share = float(printed(rf"{policy}: convolutions (\d+)%", out))
        assert 20 <= share <= 100, policy


def test_quality_benchmark_reports_seeds_worst_and_time_to_quality(sample_dir: Path, tmp_path: Path) -> None:
    result = run_script(
        "benchmarks/quality.py",
        *("--data-dir", str(sample_dir), "--work", str(tmp_path)),
        *("--steps", "4", "--eval-every", "2", "--seeds", "2", "--variants", "default,previous"),
        *("--classifier-epochs", "1", "--num-samples", "50", "--mixed-precision", "off"),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # Per seed, mean and worst for every metric, for both variants.
    for variant in ("default", "previous"):
        row = printed(rf"### {variant}\n(?:.*\n){{3}}(\| fid \|.*)", out)
        values = [float(v) for v in row.strip("| ").split(" | ")[1:]]
        fids, mean, worst = values[:2], values[2], values[3]
        assert abs(mean - sum(fids) / 2) < 1e-3 and worst == max(fids)
    # In-training scores at steps 2 and 4 for each variant, then the goals judged on the worst seed.
    assert len(re.findall(r"^\| (default|previous) \| [24] \| [\d.]+ \| [\d.]+% \(", out, re.M)) == 4
    assert re.search(r"^\| FID <= 1\.5 x floor \| (yes|no) \(", out, re.M)
    assert (tmp_path / "previous-seed1" / "gan" / "config-gan.yaml").read_text().count("ema_decay: 0.0") == 1
