#!/usr/bin/env python3
"""Throughput benchmark of the GAN step: variants measured side by side in one process.

A variant is PRECISION:STEPS_PER_CALL, optionally followed by :KEY=VALUE config settings
(`auto:50:critic_stddev_group=4` is train.py's defaults with --critic-stddev-group 4), so a
change to the networks or the step is timed beside the step it changes. The default pair is
the step as it was first built (float32, one step per tf.function call: `train.py
--mixed-precision off --steps-per-call 1`) and train.py's defaults (mnist_gan/configs/gan.yaml).
Their repeats are interleaved, so drift of a shared machine hits all alike. Prints, at
--batch-size and --cpu-replicas:
  * the machine's ceiling measured now on the same device: FLOP/s of a large matmul and of
    a large convolution, in float32 (and in bfloat16 when a variant computes in it);
  * the input pipeline alone (images/s tf.data delivers);
  * FLOPs per iteration: an analytic count of the conv and dense layers, checked against a
    count of the matmul/convolution ops in the traced graph (a lazy penalty, --gp-every k,
    counted on 1 critic update in k in both);
  * per precision: critic-update and generator-update time (one graph call each, timed
    over a quarter of --iterations calls; a critic update's the mean over whole cycles of
    the lazy penalty);
  * per variant: full-iteration time (median of the repeats), steps/s, images/s, achieved
    FLOP/s, the ratio to the float32 ceiling, and the speed-up over the first variant;
  * with --profile: where the time goes, per precision: each op type's share of the op time
    of 10 iterations, from TensorFlow's profiler (its trace, not its FLOP count);
  * with --end-to-end N: the wall time of a whole `train.py --steps N --no-eval` run per
    variant (start-up included).

    python benchmarks/throughput.py [--batch-size 64] [--cpu-replicas 0] [--variants off:1,auto:50]
    python benchmarks/throughput.py --variants auto:50,auto:50:critic_stddev_group=4
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import shlex
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
from mnist_gan.runtime import flags, process  # noqa: E402  (no TensorFlow yet: it must start after this)

process.prefer_onednn()  # before TensorFlow starts, as train.py does


def parse() -> argparse.Namespace:
    p = flags.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="datasets/MNIST-5k", help="(default: %(default)s)")
    p.add_argument(
        "--batch-size", type=int, default=0, help="global batch (default: train.py's, from gan.yaml)"
    )
    p.add_argument("--cpu-replicas", type=int, default=0, help="(default: %(default)s)")
    p.add_argument(
        "--variants",
        default=None,
        help="comma-separated PRECISION:STEPS_PER_CALL[:KEY=VALUE...], the first is the reference "
        "(default: off:1 and train.py's defaults)",
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=200,
        help="timed iterations per repeat, in whole graph calls of a variant's steps per call (at "
        "least one call) (default: 200)",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed repeats, median reported (default: 5)")
    p.add_argument("--profile", action="store_true", help="also print the op-time breakdown per precision")
    p.add_argument("--end-to-end", type=int, default=0, metavar="N", help="also time train.py --steps N")
    return p.parse_args()


def reads_inputs_only(layer: Any) -> bool:
    """Whether no trainable layer lies between ``layer`` and its model's inputs: the gradient
    with respect to its input is never built, so its backward pass is its weight gradient alone."""
    nodes, seen = list(layer._inbound_nodes), set()
    while nodes:
        node = nodes.pop()
        for parent in node.parent_nodes:
            if getattr(parent.operation, "trainable_weights", None):
                return False
            if id(parent) not in seen:
                seen.add(id(parent))
                nodes.append(parent)
    return True


def forward_flops(model: Any, inputs_only: bool = False) -> float:
    """Forward FLOPs per example of the conv, transposed-conv and dense layers (2 x MACs);
    ``inputs_only``: of those that read the model's inputs only (:func:`reads_inputs_only`)."""
    import keras
    import numpy as np

    total = 0.0
    for layer in model.layers:
        if inputs_only and not reads_inputs_only(layer):
            continue
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


def describe(settings: tuple[tuple[str, Any], ...]) -> str:
    """Config settings as printed beside a variant's figures."""
    return " ".join(f"{key}={value}" for key, value in settings) or "defaults"


@dataclasses.dataclass(frozen=True)
class Variant:
    """One timed configuration: a precision mode, steps per ``tf.function`` call, settings."""

    mode: str
    steps_per_call: int
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def trainer_key(self) -> tuple[str, tuple[tuple[str, Any], ...]]:
        """What the trainer depends on: variants differing only in steps per call share one."""
        return self.mode, self.settings


def parse_variants(spec: str, base: Any) -> list[Variant]:
    """``PRECISION:STEPS_PER_CALL[:KEY=VALUE...]`` items, comma-separated; every setting is
    checked as a config file's would be (ConfigError, ValueError)."""
    import yaml

    from mnist_gan.runtime import config, precision

    variants = []
    items: list[str] = []
    for piece in spec.split(","):
        # A piece that does not start with a precision, after a KEY=VALUE, continues that
        # value: critic_augment=translation,cutout.
        continues = piece.split(":")[0].strip() not in precision.MODES
        if items and continues and "=" in items[-1].rsplit(":", 1)[-1]:
            items[-1] += "," + piece
        else:
            items.append(piece)
    for item in items:
        mode, *rest = item.strip().split(":")
        if mode not in precision.MODES:
            raise ValueError(
                f"--variants: unknown precision {mode!r}; choose from {', '.join(precision.MODES)}"
            )
        spc = rest.pop(0) if rest else "1"
        if not spc.isdigit() or int(spc) < 1:
            raise ValueError(
                f"--variants: steps per call must be a whole number >= 1, got {spc!r} in {item!r}"
            )
        settings = []
        for pair in rest:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"--variants: {pair!r} in {item!r} is not KEY=VALUE")
            if key in ("mixed_precision", "steps_per_call"):
                raise ValueError(f"--variants: {key} in {item!r} is set by PRECISION:STEPS_PER_CALL")
            if key == "batch_size":  # the table's images/s and speed-up compare one batch
                raise ValueError(
                    f"--variants: {item!r}: the batch is one for every variant; pass --batch-size"
                )
            settings.append((key, yaml.safe_load(value)))
        checked = config.from_dict(type(base), {**base.to_dict(), **dict(settings)}, "--variants")
        variants.append(Variant(mode, int(spc), tuple((k, getattr(checked, k)) for k, _ in settings)))
    return variants


def iteration_flops(trainer: Any) -> tuple[float, float]:
    """(analytic, traced) FLOPs of one iteration of ``trainer``'s step.

    Analytic, with G and C the forward FLOPs of generator and critic on one batch and a
    backward pass costing twice its forward pass: a critic update is G (fakes) + 2C (real
    and fake scores) + 2 x 2C (their backward pass) = G + 6C, plus 6C for the penalty
    (forward C, input gradient C, and 2 x 2C for their outer backward pass) on every
    ``gp_every``-th update, so 6C / gp_every on average; with --critic-consistency, 6C more
    (the shifted real and fake digits: 2C forward, 2 x 2C backward); a generator update is
    3G + 3C, less the input gradient of the generator's layers that read its inputs alone
    (the noise and the class: nothing to pass a gradient back to).

    Traced, the same average: a lazy penalty runs inside a conditional, whose ops the traced
    graph does not list, so the step is traced once more with the penalty on every update
    and the difference counted 1 / gp_every times.
    """
    b, k, every = trainer.cfg.batch_size, trainer.cfg.crit_steps, trainer.cfg.gp_every
    g, c = b * forward_flops(trainer.generator), b * forward_flops(trainer.critic)
    consistency = 6 * c if trainer.cfg.critic_consistency > 0 else 0.0
    g_inputs = b * forward_flops(trainer.generator, inputs_only=True)
    analytic = k * (g + 6 * c + 6 * c / every + consistency) + 3 * g - g_inputs + 3 * c
    lazy = traced_step_flops(trainer)
    full = lazy if every == 1 else traced_step_flops(trainer, gp_every=1)
    return analytic, lazy + (full - lazy) / every


def traced_step_flops(trainer: Any, **changes: Any) -> float:
    """:func:`graph_flops` of ``trainer``'s step traced with its config's ``changes``."""
    import tensorflow as tf

    cfg = trainer.cfg
    trainer.cfg = dataclasses.replace(cfg, **changes)
    try:
        step = tf.function(trainer._generator_step).get_concrete_function(tf.TensorSpec([], tf.int64))
    finally:
        trainer.cfg = cfg
    return graph_flops(step.graph)


def main() -> int:
    args = parse()
    from mnist_gan import configs
    from mnist_gan.runtime import config, flags

    # The default data is the repository's; a path given is the user's, from where they are.
    data = Path(args.data_dir)
    if not data.is_absolute() and args.data_dir == "datasets/MNIST-5k":
        data = ROOT / data
    wrong = [
        f"--{name.replace('_', '-')} must be >= {low}"
        for name, low in (
            ("iterations", 1),
            ("repeats", 1),
            ("batch_size", 0),
            ("cpu_replicas", 0),
            ("end_to_end", 0),
        )
        if getattr(args, name) < low
    ]
    if not data.exists():
        wrong.append(f"--data-dir {data.resolve()}: no such folder")
    if wrong:
        print(f"error: {'; '.join(wrong)}", file=sys.stderr)
        return 2
    args.data_dir = str(data.resolve())
    trained = config.defaults(configs.GanConfig)
    base = trained.replace(batch_size=args.batch_size or trained.batch_size, data_dir=args.data_dir)
    try:  # every value checked before anything is built
        variants = parse_variants(
            args.variants or f"off:1,{base.mixed_precision}:{base.steps_per_call}", base
        )
    except (ValueError, config.ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from mnist_gan.runtime import distribute

    strategy = distribute.make_strategy("auto", args.cpu_replicas)
    process.configure_tensorflow(gradient_penalty=True)
    import tensorflow as tf

    from mnist_gan.data import sources
    from mnist_gan.runtime import precision
    from mnist_gan.training.gan_inputs import gan_dataset
    from mnist_gan.training.gan_trainer import GanTrainer

    variants = [dataclasses.replace(v, mode=precision.resolve(v.mode)[0]) for v in variants]
    train = sources.load(base.data_dir).train
    print(f"{distribute.describe(strategy)}; batch {base.batch_size}, crit_steps {base.crit_steps}")
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores; {precision.describe('auto')}; "
        f"oneDNN kernels {process.onednn_state()} "
        f"(TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '')})\n"
    )

    peak = ceilings({precision.POLICIES[v.mode].removeprefix("mixed_") for v in variants}, args.repeats)
    for dtype, (mm, cv) in peak.items():
        print(f"ceiling {dtype:>8}: matmul 2048x2048 {mm / 1e9:7.1f} GFLOP/s; conv 3x3 64x28x28x128 "
              f"{cv / 1e9:7.1f} GFLOP/s")  # fmt: skip
    ceiling = max(peak["float32"])

    it = iter(gan_dataset(train, base))
    next(it)
    count = 300
    t = median_seconds(lambda: [next(it) for _ in range(count)], 3)
    print(f"\ninput pipeline alone: {count * base.batch_size / t:,.0f} images/s\n")

    trainers: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
    for v in variants:
        if v.trainer_key not in trainers:
            cfg = base.replace(mixed_precision=v.mode, **dict(v.settings))
            trainers[v.trainer_key] = GanTrainer(cfg, strategy, 10**6)
            trainers[v.trainer_key].attach(gan_dataset(train, cfg))
    flops: dict[tuple[tuple[str, Any], ...], float] = {}  # the same networks, the same count
    for v in variants:
        if v.settings in flops:
            continue
        trainer = trainers[v.trainer_key]
        flops[v.settings], traced = iteration_flops(trainer)
        print(
            f"FLOPs per iteration ({trainer.cfg.crit_steps} critic updates + 1 generator update): "
            f"{flops[v.settings] / 1e9:.2f} GFLOP, analytic count of the conv and dense layers (the "
            f"matmul/conv ops of the traced graph add up to {traced / 1e9:.2f} GFLOP, an upper "
            f"bound: it includes gradients pruned at run time; the penalty's share counted on "
            f"1 critic update in {trainer.cfg.gp_every}); {describe(v.settings)}"
        )
    print()
    time_updates(trainers, args.iterations)
    times = time_iterations(variants, trainers, args.iterations, args.repeats)

    print(
        f"\n{'precision':>14} {'steps/call':>10} {'iteration ms':>13} {'steps/s':>8} {'images/s':>9} "
        f"{'GFLOP/s':>8} {'of fp32 ceiling':>15} {'speed-up':>8}  config"
    )
    reference = statistics.median(times[variants[0]])
    for v in variants:
        per_iter = statistics.median(times[v])
        images = base.batch_size * trainers[v.trainer_key].cfg.crit_steps / per_iter
        print(
            f"{precision.POLICIES[v.mode]:>14} {v.steps_per_call:>10} {per_iter * 1e3:>13.1f} "
            f"{1 / per_iter:>8.2f} {images:>9,.0f} {flops[v.settings] / per_iter / 1e9:>8.1f} "
            f"{flops[v.settings] / per_iter / ceiling:>15.1%} {reference / per_iter:>7.2f}x  "
            f"{describe(v.settings)}"
        )

    if args.profile:
        print("\nwhere the op time goes (profiler trace of 10 iterations, share of all op time):")
        for (mode, settings), trainer in trainers.items():
            shares = op_time_shares(trainer)
            if not shares:
                print("  (TensorFlow's profiler converter is not available in this version)")
                break
            conv = sum(share for name, share in shares.items() if name.startswith("Conv2D"))
            top = ", ".join(f"{name} {share:.0%}" for name, share in list(shares.items())[:8])
            print(f"{precision.POLICIES[mode]:>14}: convolutions {conv:.0%}; {top} ({describe(settings)})")

    if args.end_to_end:
        print()
        for v in variants:
            wall = end_to_end(base, v, args.end_to_end)
            print(
                f"train.py --steps {args.end_to_end} --mixed-precision {v.mode} --steps-per-call "
                f"{v.steps_per_call}{''.join(' ' + flags.setting(k, x) for k, x in v.settings)}, end to "
                f"end (start-up included): {wall:.1f} s, {args.end_to_end / wall:.2f} steps/s"
            )
    return 0


def time_updates(trainers: dict[Any, Any], iterations: int) -> None:
    """Print the time of one critic update (the mean over whole cycles of the lazy penalty)
    and one generator update of each trainer."""
    import tensorflow as tf

    from mnist_gan.runtime import precision

    for (mode, settings), trainer in trainers.items():
        # The update number decides whether the penalty is taken (gp_every > 1): count them, so
        # the time is that of the mix a run has, not of the update with the penalty alone.
        count = tf.Variable(0, dtype=tf.int64, trainable=False)
        critic = tf.function(
            lambda t=trainer, n=count: t.strategy.run(
                t.critic_update, args=(next(t.iterator), n.assign_add(1) - 1)
            )
        )
        gen = tf.function(lambda t=trainer: t.strategy.run(t.generator_update, args=(next(t.iterator),)))
        every = trainer.cfg.gp_every
        for _ in range(every):
            critic()
        gen()
        # A quarter of --iterations (a short run asks for short timings), in whole cycles of
        # the lazy penalty so that each repeat times the same mix.
        calls = -(-max(1, iterations // 4) // every) * every
        t_critic = per_call(critic, calls, trainer.step.numpy)
        t_gen = per_call(gen, calls, trainer.step.numpy)
        k = trainer.cfg.crit_steps
        print(
            f"{precision.POLICIES[mode]:>14}: critic update {t_critic * 1e3:5.1f} ms, generator update "
            f"{t_gen * 1e3:5.1f} ms; {k} + 1 of them: {(k * t_critic + t_gen) * 1e3:.1f} ms "
            f"({describe(settings)})"
        )


def time_iterations(
    variants: list[Variant], trainers: dict[Any, Any], iterations: int, repeats: int
) -> dict[Variant, list[float]]:
    """Seconds per iteration of each variant, ``repeats`` times, interleaved: each repeat
    times every variant once, so the drift of a shared machine hits them alike."""
    import tensorflow as tf

    for v in variants:
        trainers[v.trainer_key].train(tf.constant(v.steps_per_call))  # trace and warm up
    times: dict[Variant, list[float]] = {v: [] for v in variants}
    for _ in range(repeats):
        for v in variants:
            trainer = trainers[v.trainer_key]
            calls = max(1, iterations // v.steps_per_call)
            run = functools.partial(trainer.train, tf.constant(v.steps_per_call))
            times[v].append(per_call(run, calls, trainer.step.numpy, 1) / v.steps_per_call)
    return times


def end_to_end(base: Any, v: Variant, steps: int) -> float:
    """Wall seconds of a whole ``train.py --steps STEPS --no-eval`` run of variant ``v``."""
    from mnist_gan.runtime import flags

    with tempfile.TemporaryDirectory(prefix="mnist-gan-throughput-") as work:
        command = [sys.executable, "train.py", "--data-dir", base.data_dir, "--no-eval",
                   "--steps", str(steps), "--save-dir", f"{work}/ckpt", "--log-dir", f"{work}/logs",
                   "--batch-size", str(base.batch_size), "--mixed-precision", v.mode,
                   "--steps-per-call", str(v.steps_per_call)]  # fmt: skip
        for key, value in v.settings:
            command += shlex.split(flags.setting(key, value))
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if done.returncode != 0:  # its own error line, not a CalledProcessError's traceback
        said = done.stderr.strip().splitlines() or [f"exit status {done.returncode}, nothing on stderr"]
        print(f"error: the end-to-end run of train.py failed: {said[-1]}", file=sys.stderr)
        raise SystemExit(done.returncode if done.returncode > 0 else 128 - done.returncode)  # killed: 128 + N
    return wall


if __name__ == "__main__":
    sys.exit(main())
