#!/usr/bin/env python3
"""Throughput benchmark of the GAN step, measured side by side in one process.

Prints, for the default models at --batch-size and --cpu-replicas:
  * critic-update, generator-update and full-iteration time (median over repeats after a
    warm-up), images/s and steps/s, for each --steps-per-call variant asked for (1 is the
    plain one-step-per-call path; the default config runs 50 per call);
  * FLOPs per iteration, counted by TensorFlow's profiler on the traced graph of one
    iteration (forward, gradient penalty and backward), and the achieved FLOP/s;
  * the machine's ceiling measured in the same run: FLOP/s of a large float32 matmul and of
    a large convolution through TensorFlow, and the ratio achieved / ceiling;
  * the input pipeline alone (images/s tf.data delivers);
  * with --end-to-end N: the wall time of a whole `train.py --steps N --no-eval` run.

    python benchmarks/throughput.py [--batch-size 64] [--cpu-replicas 0] [--precision off]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="datasets/MNIST-5k", help="(default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, help="global batch (default: %(default)s)")
    p.add_argument("--cpu-replicas", type=int, default=0, help="(default: %(default)s)")
    p.add_argument(
        "--precision", default="off", choices=("off", "bfloat16", "float16"), help="(default: off)"
    )
    p.add_argument("--steps-per-call", default="1,50", help="variants to compare (default: %(default)s)")
    p.add_argument("--iterations", type=int, default=200, help="timed iterations per variant (default: 200)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats, median reported (default: 5)")
    p.add_argument("--end-to-end", type=int, default=0, metavar="N", help="also time train.py --steps N")
    return p.parse_args()


def forward_flops(model) -> float:
    """Forward FLOPs per example of the conv, transposed-conv and dense layers (2 x MACs)."""
    import keras
    import numpy as np

    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            total += 2 * h * w * c_in * np.prod(layer.kernel_size) * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            total += 2 * h * w * c_out * np.prod(layer.kernel_size) * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return float(total)


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    args = parse()
    from mnist_gan import distribute

    strategy = distribute.make_strategy("auto", args.cpu_replicas)
    import tensorflow as tf

    from mnist_gan import config, data
    from mnist_gan.training.gan import GanTrainer, gan_dataset

    cfg = config.defaults(config.GanConfig).replace(
        batch_size=args.batch_size, mixed_precision=args.precision, data_dir=args.data_dir
    )
    train, _ = data.load(cfg.data_dir)
    b, k = cfg.batch_size, cfg.crit_steps
    print(f"{distribute.describe(strategy)}; batch {b}, crit_steps {k}, precision {args.precision}")
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores\n")

    # The ceiling, measured now on the same device.
    n = 2048
    x = tf.random.normal([n, n])
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(x, x)))
    matmul()
    t = median_seconds(lambda: float(matmul()), args.repeats)
    matmul_flops = 2 * n**3 / t
    images = tf.random.normal([64, 28, 28, 128])
    kernel = tf.random.normal([3, 3, 128, 128])
    conv = tf.function(lambda: tf.reduce_sum(tf.nn.conv2d(images, kernel, 1, "SAME")))
    conv()
    t = median_seconds(lambda: float(conv()), args.repeats)
    conv_flops = 2 * 64 * 28 * 28 * 128 * 9 * 128 / t
    ceiling = max(matmul_flops, conv_flops)
    print(
        f"ceiling: float32 matmul {n}x{n}: {matmul_flops / 1e9:.1f} GFLOP/s; "
        f"3x3 conv 64x28x28x128: {conv_flops / 1e9:.1f} GFLOP/s\n"
    )

    # The input pipeline on its own.
    it = iter(gan_dataset(train, cfg))
    next(it)
    count = 300
    t = median_seconds(lambda: [next(it) for _ in range(count)], 3)
    print(f"input pipeline alone: {count * b / t:,.0f} images/s\n")

    trainer = GanTrainer(cfg, strategy, total_steps=10**6, dataset=gan_dataset(train, cfg))
    # FLOPs of one iteration from the profiler, on the traced graph of one generator step.
    one = tf.function(trainer._generator_step)
    graph = one.get_concrete_function().graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    profiled = tf.compat.v1.profiler.profile(graph, options=opts).total_float_ops
    # Analytic count, with G and C the forward FLOPs of generator and critic on one batch and
    # a backward pass costing twice its forward pass: a critic update is G (fakes) + 2C (real
    # and fake scores) + C + C (penalty: forward and its input gradient) + 2 x (2C + 2C) (the
    # outer backward pass) = G + 12C; a generator update is 3G + 3C.
    g, c = b * forward_flops(trainer.generator), b * forward_flops(trainer.critic)
    flops = k * (g + 12 * c) + 3 * g + 3 * c
    print(
        f"FLOPs per iteration ({k} critic updates + 1 generator update): {flops / 1e9:.2f} GFLOP "
        f"(analytic count of conv and dense layers; TF's profiler counts {profiled / 1e9:.2f} GFLOP "
        "on the traced graph, all ops and both gradient passes as traced)\n"
    )

    critic = tf.function(lambda: trainer.strategy.run(trainer.critic_update, args=(next(trainer.iterator),)))
    gen = tf.function(lambda: trainer.strategy.run(trainer.generator_update, args=(next(trainer.iterator),)))
    critic()
    gen()
    reps = max(20, args.iterations // 4)
    t_critic = (
        median_seconds(lambda: [critic() for _ in range(reps)] and float(trainer.step), args.repeats) / reps
    )
    t_gen = median_seconds(lambda: [gen() for _ in range(reps)] and float(trainer.step), args.repeats) / reps
    print(
        f"critic update: {t_critic * 1e3:.1f} ms   generator update: {t_gen * 1e3:.1f} ms   "
        f"(one graph call each)\n"
    )

    print(
        f"{'steps/call':>10} {'iteration ms':>13} {'steps/s':>8} {'images/s':>9} "
        f"{'GFLOP/s':>8} {'of ceiling':>10}"
    )
    results = {}
    for spc in [int(s) for s in args.steps_per_call.split(",")]:
        calls = max(1, args.iterations // spc)
        trainer.train(tf.constant(spc))  # trace and warm up
        seconds = median_seconds(
            lambda spc=spc, calls=calls: (
                [trainer.train(tf.constant(spc)) for _ in range(calls)] and float(trainer.step)
            ),
            args.repeats,
        )
        per_iter = seconds / (calls * spc)
        results[spc] = per_iter
        print(
            f"{spc:>10} {per_iter * 1e3:>13.1f} {1 / per_iter:>8.2f} {b * k / per_iter:>9,.0f} "
            f"{flops / per_iter / 1e9:>8.1f} {flops / per_iter / ceiling:>10.1%}"
        )
    if len(results) > 1:
        first, *_, last = results
        print(f"\nspeed-up of {last} steps/call over {first}: {results[first] / results[last]:.2f}x")

    if args.end_to_end:
        with tempfile.TemporaryDirectory(prefix="mnist-gan-throughput-") as work:
            command = [sys.executable, "train.py", "--data-dir", cfg.data_dir, "--no-eval", "--steps",
                       str(args.end_to_end), "--save-dir", f"{work}/ckpt", "--log-dir", f"{work}/logs",
                       "--batch-size", str(b), "--mixed-precision", args.precision]  # fmt: skip
            start = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            wall = time.perf_counter() - start
        print(
            f"\ntrain.py --steps {args.end_to_end} end to end (start-up included): {wall:.1f} s, "
            f"{args.end_to_end / wall:.2f} steps/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
