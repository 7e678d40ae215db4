#!/usr/bin/env python3
"""The optimiser's update alone: Keras's Adam against the fused kernel train.py uses
(mnist_gan/training/optimizers.py, FusedAdam), side by side in one process.

For each network of train.py's defaults (and the generator with its first layer shared by
every class, the defaults before 2026-12-06, evening) it applies one gradient to every
trainable variable with each optimiser, in one graph call of --updates updates, the two
taken in turn --repeats times so the drift of a shared machine hits both alike, and prints
the weights updated, the median milliseconds per update of each and their ratio. A
benchmark, not a test: it asserts nothing.

    python benchmarks/optimizer.py [--updates 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from mnist_gan.runtime import flags, process  # noqa: E402  (no TensorFlow yet)

process.prefer_onednn()  # before TensorFlow starts, as train.py does


def parse() -> argparse.Namespace:
    p = flags.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=20, help="updates per timed call (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls of each, median reported (default: 5)")
    args = p.parse_args()
    if min(args.updates, args.repeats) < 1:
        p.error("--updates and --repeats must be >= 1")
    return args


def timer(optimizer: Any, variables: list[Any], updates: int) -> Callable[[], float]:
    """A function that applies ``updates`` updates of fixed gradients and returns its seconds."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    grads = [tf.constant(rng.standard_normal(v.shape).astype("float32") * 1e-3) for v in variables]
    optimizer.build(variables)

    @tf.function
    def run() -> tf.Tensor:
        for _ in range(updates):
            optimizer.apply(grads, variables)
        return optimizer.iterations

    run()  # traced and warm

    def timed() -> float:
        start = time.perf_counter()
        int(run())
        return time.perf_counter() - start

    return timed


def main() -> int:
    args = parse()
    import keras
    import tensorflow as tf

    from mnist_gan import configs
    from mnist_gan.models import networks
    from mnist_gan.runtime import config
    from mnist_gan.training.optimizers import FusedAdam

    cfg = config.defaults(configs.GanConfig)
    shared = cfg.replace(gen_noise_weights="shared")
    models = {
        "generator (defaults)": networks.generator_for(cfg),
        "generator (gen_noise_weights=shared)": networks.generator_for(shared),
        "critic (defaults)": networks.critic_for(cfg),
    }
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores; {args.updates} updates per call, "
          f"median of {args.repeats} calls each\n")  # fmt: skip
    print(f"{'network':>38} {'weights':>10} {'Keras Adam ms':>14} {'fused ms':>9} {'ratio':>6}")
    for name, model in models.items():
        # Each optimiser updates its own copy, so neither sees the other's moments.
        copies = [[keras.Variable(v.numpy()) for v in model.trainable_variables] for _ in range(2)]
        kinds = (keras.optimizers.Adam, FusedAdam)
        timers = [
            timer(kind(1e-4, beta_1=cfg.beta_1, beta_2=cfg.beta_2), copy, args.updates)
            for kind, copy in zip(kinds, copies)
        ]
        times: list[list[float]] = [[], []]
        for _ in range(args.repeats):
            for i, timed in enumerate(timers):
                times[i].append(timed() / args.updates)
        keras_ms, fused_ms = (statistics.median(t) * 1e3 for t in times)
        weights = sum(int(v.numpy().size) for v in copies[0])
        print(f"{name:>38} {weights:>10,} {keras_ms:>14.2f} {fused_ms:>9.2f} {keras_ms / fused_ms:>5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
