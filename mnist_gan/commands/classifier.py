"""Train the evaluator: a small CNN on MNIST whose accuracy and features judge the GAN."""

from __future__ import annotations

import sys

from mnist_gan import bootstrap, cli


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.config import ClassifierConfig, parse_args

    cfg, _ = parse_args(ClassifierConfig, argv, __doc__)
    cli.quiet_tensorflow()
    from mnist_gan import distribute
    from mnist_gan.training.classifier import train_classifier

    strategy = distribute.make_strategy(cfg.strategy, cfg.cpu_replicas, cfg.collective_timeout)
    print(distribute.describe(strategy))
    with distribute.collective_errors():
        result = train_classifier(cfg, strategy)
    # What was resumed or skipped was printed before training (see open_run).
    if result.nothing_to_do:
        return 0
    if result.log_dir is None:
        print(f"worker done at step {result.steps}; the chief keeps the checkpoints and logs")
        return 0
    print(f"checkpoint: {result.checkpoint}")
    print(f"logs: {result.log_dir}")
    print(f"test accuracy: {result.test_accuracy:.2%} after {result.steps} steps")
    return 0


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]))
