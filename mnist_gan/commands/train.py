"""Train the class-conditional WGAN-GP, scored by the trained classifier while it learns."""

from __future__ import annotations

import sys

from mnist_gan import bootstrap, cli


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.config import GanConfig, parse_args

    cfg, _ = parse_args(GanConfig, argv, __doc__)
    cli.quiet_tensorflow()
    from mnist_gan import distribute, precision
    from mnist_gan.training.gan_run import train_gan

    strategy = distribute.make_strategy(cfg.strategy, cfg.cpu_replicas, cfg.collective_timeout)
    print(distribute.describe(strategy))
    print(precision.describe(cfg.mixed_precision))
    with distribute.collective_errors():
        result = train_gan(cfg, strategy)
    for path in result.skipped:
        print(f"warning: {path} could not be read (damaged); resumed from the checkpoint before it")
    for key, (old, new) in result.changed.items():
        print(f"note: resumed with {key} changed from {old!r} to {new!r}")
    if result.resumed_from:
        print(f"resumed from step {result.resumed_from} in {cfg.save_dir}")
    if result.log_dir is None:
        print(f"worker done at step {result.steps}; the chief keeps the checkpoints and logs")
        print(f"weights fingerprint: {result.fingerprint}")
        return 0
    print(f"checkpoint: {result.checkpoint}")
    print(f"weights fingerprint: {result.fingerprint}")
    print(f"logs: {result.log_dir}  (tensorboard --logdir {cfg.log_dir})")
    if "eval_accuracy" in result.scores:
        s = result.scores
        print(
            f"generated digits recognised as asked: {s['eval_accuracy']:.2%}; "
            f"FID {s['eval_fid']:.3f} (real-data floor {s['eval_fid_floor']:.3f})"
        )
    return 0


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]))
