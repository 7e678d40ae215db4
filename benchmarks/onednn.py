#!/usr/bin/env python3
"""oneDNN kernels on against off: the GAN step as benchmarks/throughput.py times it, run in
separate processes with TF_ENABLE_ONEDNN_OPTS=0 and =1 in turn, round after round, so the
drift of a shared machine hits both alike (TensorFlow reads the variable once, at start-up:
one process cannot time both).

Every command of this project asks for oneDNN (mnist_gan/runtime/process.py). On Linux,
TensorFlow turns it on by itself only where the CPU has AVX512-VNNI, AVX-VNNI, AVX512-BF16
or AMX; there the setting changes nothing, and this benchmark shows what it would cost to
turn it off. Prints which of those features the CPU has, TensorFlow's own choice on it,
every round's iteration time per setting, their medians and the ratio. A benchmark, not a
test: it asserts nothing.

    python benchmarks/onednn.py                      # 2 rounds of train.py's default step
    python benchmarks/onednn.py --rounds 3 --variants off:50 --iterations 50
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
THROUGHPUT = ROOT / "benchmarks" / "throughput.py"
# The CPU features for which TensorFlow's Linux build turns oneDNN on by itself
# (tensorflow/core/util/port.cc), as /proc/cpuinfo names them.
TF_ONEDNN_FEATURES = ("avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
SETTINGS = ("0", "1")
TABLE_HEADER = "precision steps/call"


def parse() -> argparse.Namespace:
    from mnist_gan.runtime import flags  # no TensorFlow: this process only starts others

    p = flags.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2, help="processes per setting (default: %(default)s)")
    p.add_argument(
        "--variants",
        default="auto:50",
        help="as throughput.py takes them (default: %(default)s, train.py's step)",
    )
    p.add_argument("--iterations", type=int, default=30, help="per repeat (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="(default: %(default)s)")
    p.add_argument("--data-dir", default="datasets/MNIST-5k", help="(default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=0, help="global batch (default: train.py's)")
    args = p.parse_args()
    if min(args.rounds, args.iterations, args.repeats) < 1 or args.batch_size < 0:
        p.error("--rounds, --iterations and --repeats must be >= 1, --batch-size >= 0")
    return args


def cpu_features() -> str:
    """Which of TensorFlow's oneDNN features the CPU has, and its widest x86 vectors."""
    from mnist_gan.runtime import precision

    flags = precision.cpu_flags()
    found = [f for f in TF_ONEDNN_FEATURES if f in flags]
    isa = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "neither avx2 nor avx512f"
    return f"{', '.join(found) or 'none'} of {', '.join(TF_ONEDNN_FEATURES)}; widest vectors: {isa}"


def environment(setting: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env if setting is None else {**env, "TF_ENABLE_ONEDNN_OPTS": setting}


def tensorflow_default() -> str:
    """TensorFlow's own choice on this machine, the variable unset."""
    probe = "from mnist_gan.runtime import process; import tensorflow; print(process.onednn_state())"
    command = [sys.executable, "-c", probe]
    out = subprocess.run(command, cwd=ROOT, env=environment(None), capture_output=True, text=True, check=True)
    words = out.stdout.split()
    return words[-1] if words else "unknown"


def read_table(stdout: str) -> tuple[list[tuple[str, float]], str]:
    """throughput.py's printout -> [(variant, iteration ms)] in its order, and 'on', 'off' or
    'unknown': whether its process ran oneDNN kernels."""
    state = re.search(r"oneDNN kernels (\w+)", stdout)
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if TABLE_HEADER in line) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        cells = line.split()
        # precision, steps/call, iteration ms, steps/s, images/s, GFLOP/s, share, speed-up, config
        rows.append((f"{cells[0]}:{cells[1]} {' '.join(cells[8:])}", float(cells[2])))
    return rows, state.group(1) if state else "unknown"


def time_step(args: argparse.Namespace, setting: str) -> tuple[list[tuple[str, float]], str]:
    """One throughput.py process with TF_ENABLE_ONEDNN_OPTS=``setting``: :func:`read_table`."""
    command = [sys.executable, str(THROUGHPUT), "--variants", args.variants, "--data-dir", args.data_dir]
    command += ["--iterations", str(args.iterations), "--repeats", str(args.repeats)]
    command += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    result = subprocess.run(command, cwd=ROOT, env=environment(setting), capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return read_table(result.stdout)


def main() -> int:
    args = parse()
    print(f"CPU: {cpu_features()}")
    print(f"TensorFlow's own choice here (TF_ENABLE_ONEDNN_OPTS unset): oneDNN {tensorflow_default()}")
    timed = f"--variants {args.variants} --iterations {args.iterations} --repeats {args.repeats}"
    print(f"step: throughput.py {timed}\n")
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(1, args.rounds + 1):
        for setting in SETTINGS:
            rows, state = time_step(args, setting)
            for variant, ms in rows:
                times.setdefault((variant, setting), []).append(ms)
                print(f"round {r}, TF_ENABLE_ONEDNN_OPTS={setting} (oneDNN {state}): {variant}: {ms:.1f} ms")
    print()
    for variant in dict.fromkeys(v for v, _ in times):
        off, on = (statistics.median(times[(variant, s)]) for s in SETTINGS)
        print(f"{variant}: median {off:.1f} ms with oneDNN off, {on:.1f} ms on: {off / on:.2f}x as fast on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
