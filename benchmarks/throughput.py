#!/usr/bin/env python3
"""Throughput benchmark of the GAN step: variants measured side by side in one process.

A variant is PRECISION:STEPS_PER_CALL. The default pair is the step as it was first built
(float32, one step per tf.function call: `train.py --mixed-precision off --steps-per-call 1`)
and train.py's defaults (mnist_gan/configs/gan.yaml). Their repeats are interleaved, so drift of a
shared machine hits both alike. Prints, for the default models at --batch-size and
--cpu-replicas:
  * the machine's ceiling measured now on the same device: FLOP/s of a large matmul and of
    a large convolution, in float32 (and in bfloat16 when a variant computes in it);
  * the input pipeline alone (images/s tf.data delivers);
  * FLOPs per iteration: an analytic count of the conv and dense layers, checked against a
    count of the matmul/convolution ops in the traced graph;
  * per precision: critic-update and generator-update time (one graph call each);
  * per variant: full-iteration time (median of the repeats), steps/s, images/s, achieved
    FLOP/s, the ratio to the float32 ceiling, and the speed-up over the first variant;
  * with --profile: where the time goes, per precision: each op type's share of the op time
    of 10 iterations, from TensorFlow's profiler (its trace, not its FLOP count);
  * with --end-to-end N: the wall time of a whole `train.py --steps N --no-eval` run per
    variant (start-up included).

    python benchmarks/throughput.py [--batch-size 64] [--cpu-replicas 0] [--variants off:1,auto:50]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="datasets/MNIST-5k", help="(default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, help="global batch (default: %(default)s)")
    p.add_argument("--cpu-replicas", type=int, default=0, help="(default: %(default)s)")
    p.add_argument(
        "--variants",
        default=None,
        help="comma-separated PRECISION:STEPS_PER_CALL, the first is the reference "
        "(default: off:1 and train.py's defaults)",
    )
    p.add_argument("--iterations", type=int, default=200, help="timed iterations per repeat (default: 200)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats, median reported (default: 5)")
    p.add_argument("--profile", action="store_true", help="also print the op-time breakdown per precision")
    p.add_argument("--end-to-end", type=int, default=0, metavar="N", help="also time train.py --steps N")
    return p.parse_args()


def forward_flops(model: Any) -> float:
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


def graph_flops(graph: Any) -> float:
    """FLOPs of the matmul and convolution ops of a traced graph, from their static shapes.

    Every such op is counted, including gradients TensorFlow builds and then prunes as
    unused (e.g. the input gradient of the critic's first layer), so it is an upper bound.
    TF's own profiler is no help here: on this graph it counts the BatchMatMulV2 ops of the
    critic's projection head alone, with a wrong size, and none of the convolutions.
    """
    import numpy as np

    total = 0.0
    for op in graph.get_operations():
        if op.type in ("Conv2D", "Conv2DBackpropInput"):
            kernel = op.inputs[1].shape  # (kh, kw, c_in, c_out)
            grad = op.outputs[0].shape if op.type == "Conv2D" else op.inputs[2].shape  # conv output
            total += 2 * np.prod(grad) * np.prod(kernel[:3])
        elif op.type == "Conv2DBackpropFilter":
            total += 2 * np.prod(op.inputs[2].shape) * np.prod(op.outputs[0].shape[:3])
        elif op.type in ("MatMul", "BatchMatMulV2"):
            a = op.inputs[0].shape
            transposed = op.get_attr("transpose_a" if op.type == "MatMul" else "adj_x")
            total += 2 * np.prod(op.outputs[0].shape) * a[-2 if transposed else -1]
    return float(total)


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_call(fn: Callable[[], object], calls: int, sync: Callable[[], object], repeats: int = 3) -> float:
    """Seconds per call of ``fn`` run ``calls`` times back to back (median of ``repeats``)."""

    def run() -> None:
        for _ in range(calls):
            fn()
        sync()  # the calls are asynchronous: wait for the last one

    return median_seconds(run, repeats) / calls


def op_time_shares(trainer: Any, iterations: int = 10) -> dict[str, float]:
    """Share of the traced op time of ``iterations`` training iterations, per op type.

    Shares of the time summed over the threads that ran ops; idle time is left out. Reads
    the trace with the profiler's converter, a TensorFlow internal: {} if it is missing.
    """
    import glob
    import json

    import tensorflow as tf

    try:
        from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin
    except ImportError:
        return {}
    with tempfile.TemporaryDirectory(prefix="mnist-gan-profile-") as folder:
        trainer.train(tf.constant(iterations))  # traced and warm before the profile starts
        float(trainer.step)
        tf.profiler.experimental.start(folder)
        trainer.train(tf.constant(iterations))
        float(trainer.step)
        tf.profiler.experimental.stop()
        data, ok = plugin.xspace_to_tools_data(glob.glob(f"{folder}/**/*.xplane.pb", recursive=True),
                                               "framework_op_stats", {})  # fmt: skip
    if not ok:
        return {}
    table = json.loads(data)[0]
    columns = [c["id"] for c in table["cols"]]
    per_type: dict[str, float] = {}
    for row in table["rows"]:
        op: dict[str, Any] = {key: (cell or {}).get("v") for key, cell in zip(columns, row["c"])}
        if op["type"] != "IDLE":
            name = str(op["type"]).removeprefix("_MklNative").removeprefix("_Mkl")
            per_type[name] = per_type.get(name, 0.0) + float(op["total_self_time"])
    total = sum(per_type.values()) or 1.0
    return {name: t / total for name, t in sorted(per_type.items(), key=lambda kv: -kv[1])}


def ceilings(precisions: set[str], repeats: int) -> dict[str, tuple[float, float]]:
    """(matmul, conv) FLOP/s of each compute dtype on the default device, measured now."""
    import tensorflow as tf

    dtypes = {"float32": tf.float32, **({"bfloat16": tf.bfloat16} if "bfloat16" in precisions else {})}
    n, shape, kshape = 2048, [64, 28, 28, 128], [3, 3, 128, 128]
    found = {}

    def rate(fn: Callable[[], tf.Tensor], work: float) -> float:
        fn()  # trace
        return work / median_seconds(lambda: float(fn()), repeats)

    for name, dtype in dtypes.items():
        x = tf.cast(tf.random.normal([n, n]), dtype)
        images, kernel = tf.cast(tf.random.normal(shape), dtype), tf.cast(tf.random.normal(kshape), dtype)
        # The reduction in float32 keeps the fetched result tiny, so the op itself is timed.
        matmul = functools.partial(tf.function(lambda a: tf.reduce_sum(tf.cast(a @ a, tf.float32))), x)
        conv = functools.partial(
            tf.function(lambda i, k: tf.reduce_sum(tf.cast(tf.nn.conv2d(i, k, 1, "SAME"), tf.float32))),
            images,
            kernel,
        )
        found[name] = (rate(matmul, 2 * n**3), rate(conv, 2 * 64 * 28 * 28 * 128 * 9 * 128))
    return found


def main() -> int:
    args = parse()
    from mnist_gan.runtime import distribute, process

    strategy = distribute.make_strategy("auto", args.cpu_replicas)
    process.configure_tensorflow(gradient_penalty=True)
    import tensorflow as tf

    from mnist_gan import configs
    from mnist_gan.data import sources
    from mnist_gan.runtime import config, precision
    from mnist_gan.training.gan_inputs import gan_dataset
    from mnist_gan.training.gan_trainer import GanTrainer

    base = config.defaults(configs.GanConfig).replace(batch_size=args.batch_size, data_dir=args.data_dir)
    spec = args.variants or f"off:1,{base.mixed_precision}:{base.steps_per_call}"
    variants: list[tuple[str, int]] = []
    for item in spec.split(","):
        mode, _, spc = item.partition(":")
        variants.append((precision.resolve(mode)[0], int(spc or 1)))
    train = sources.load(base.data_dir).train
    b, k = base.batch_size, base.crit_steps
    print(f"{distribute.describe(strategy)}; batch {b}, crit_steps {k}")
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores; {precision.describe('auto')}\n")

    modes = {mode for mode, _ in variants}
    peak = ceilings({precision.POLICIES[m].removeprefix("mixed_") for m in modes}, args.repeats)
    for dtype, (mm, cv) in peak.items():
        print(f"ceiling {dtype:>8}: matmul 2048x2048 {mm / 1e9:7.1f} GFLOP/s; conv 3x3 64x28x28x128 "
              f"{cv / 1e9:7.1f} GFLOP/s")  # fmt: skip
    ceiling = max(peak["float32"])

    it = iter(gan_dataset(train, base))
    next(it)
    count = 300
    t = median_seconds(lambda: [next(it) for _ in range(count)], 3)
    print(f"\ninput pipeline alone: {count * b / t:,.0f} images/s\n")

    trainers = {m: GanTrainer(base.replace(mixed_precision=m), strategy, 10**6) for m in sorted(modes)}
    for trainer in trainers.values():
        trainer.attach(gan_dataset(train, trainer.cfg))
    trainer = next(iter(trainers.values()))
    # Analytic count, with G and C the forward FLOPs of generator and critic on one batch and
    # a backward pass costing twice its forward pass: a critic update is G (fakes) + 2C (real
    # and fake scores) + C + C (penalty: forward and its input gradient) + 2 x (2C + 2C) (the
    # outer backward pass) = G + 12C; a generator update is 3G + 3C.
    g, c = b * forward_flops(trainer.generator), b * forward_flops(trainer.critic)
    flops = k * (g + 12 * c) + 3 * g + 3 * c
    traced = graph_flops(
        tf.function(trainer._generator_step).get_concrete_function(tf.TensorSpec([], tf.int64)).graph
    )
    print(
        f"FLOPs per iteration ({k} critic updates + 1 generator update): {flops / 1e9:.2f} GFLOP, "
        f"analytic count of the conv and dense layers (the matmul/conv ops of the traced graph "
        f"add up to {traced / 1e9:.2f} GFLOP, an upper bound: it includes gradients pruned at run time)\n"
    )

    for mode, trainer in trainers.items():
        critic = tf.function(
            lambda t=trainer: t.strategy.run(
                t.critic_update, args=(next(t.iterator), tf.constant(0, tf.int64))
            )
        )
        gen = tf.function(lambda t=trainer: t.strategy.run(t.generator_update, args=(next(t.iterator),)))
        critic(), gen()
        calls = max(20, args.iterations // 4)
        t_critic = per_call(critic, calls, trainer.step.numpy)
        t_gen = per_call(gen, calls, trainer.step.numpy)
        print(
            f"{precision.POLICIES[mode]:>14}: critic update {t_critic * 1e3:5.1f} ms, generator update "
            f"{t_gen * 1e3:5.1f} ms; {k} + 1 of them: {(k * t_critic + t_gen) * 1e3:.1f} ms"
        )

    for mode, spc in variants:
        trainers[mode].train(tf.constant(spc))  # trace and warm up
    times: dict[tuple[str, int], list[float]] = {v: [] for v in variants}
    for _ in range(args.repeats):  # interleaved: each repeat times every variant once
        for mode, spc in variants:
            calls = max(1, args.iterations // spc)
            trainer = trainers[mode]
            one_call = per_call(
                functools.partial(trainer.train, tf.constant(spc)), calls, trainer.step.numpy, 1
            )
            times[(mode, spc)].append(one_call / spc)

    print(
        f"\n{'precision':>14} {'steps/call':>10} {'iteration ms':>13} {'steps/s':>8} {'images/s':>9} "
        f"{'GFLOP/s':>8} {'of fp32 ceiling':>15} {'speed-up':>8}"
    )
    reference = statistics.median(times[variants[0]])
    for mode, spc in variants:
        per_iter = statistics.median(times[(mode, spc)])
        print(
            f"{precision.POLICIES[mode]:>14} {spc:>10} {per_iter * 1e3:>13.1f} {1 / per_iter:>8.2f} "
            f"{b * k / per_iter:>9,.0f} {flops / per_iter / 1e9:>8.1f} {flops / per_iter / ceiling:>15.1%} "
            f"{reference / per_iter:>7.2f}x"
        )

    if args.profile:
        print("\nwhere the op time goes (profiler trace of 10 iterations, share of all op time):")
        for mode, trainer in trainers.items():
            shares = op_time_shares(trainer)
            if not shares:
                print("  (TensorFlow's profiler converter is not available in this version)")
                break
            conv = sum(v for name, v in shares.items() if name.startswith("Conv2D"))
            top = ", ".join(f"{name} {v:.0%}" for name, v in list(shares.items())[:8])
            print(f"{precision.POLICIES[mode]:>14}: convolutions {conv:.0%}; {top}")

    if args.end_to_end:
        print()
        for mode, spc in variants:
            with tempfile.TemporaryDirectory(prefix="mnist-gan-throughput-") as work:
                command = [sys.executable, "train.py", "--data-dir", base.data_dir, "--no-eval",
                           "--steps", str(args.end_to_end), "--save-dir", f"{work}/ckpt",
                           "--log-dir", f"{work}/logs", "--batch-size", str(b),
                           "--mixed-precision", mode, "--steps-per-call", str(spc)]  # fmt: skip
                start = time.perf_counter()
                subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
                wall = time.perf_counter() - start
            print(
                f"train.py --steps {args.end_to_end} --mixed-precision {mode} --steps-per-call {spc}, "
                f"end to end (start-up included): {wall:.1f} s, {args.end_to_end / wall:.2f} steps/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
