"""Train the evaluator: a small CNN on MNIST whose accuracy and features judge the GAN."""

from __future__ import annotations

import sys

from mnist_gan import bootstrap
from mnist_gan.runtime import cli, process


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.configs import ClassifierConfig
    from mnist_gan.runtime.flags import parse_args

    cfg, given = parse_args(ClassifierConfig, argv, __doc__)
    process.setup()
    from mnist_gan.runtime import distribute
    from mnist_gan.training import run_folder
    from mnist_gan.training.classifier import train_classifier
    from mnist_gan.training.run import print_result

    cfg = run_folder.with_the_runs_data(cfg, given)
    strategy = distribute.make_strategy(cfg.strategy, cfg.cpu_replicas, cfg.collective_timeout)
    print(distribute.describe(strategy))
    with distribute.collective_errors():
        print_result(train_classifier(cfg, strategy), cfg.log_dir)
    return 0


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]), hold=True)
