"""Train the class-conditional WGAN-GP, scored by the trained classifier while it learns."""

from __future__ import annotations

import sys

from mnist_gan import bootstrap
from mnist_gan.runtime import cli, process

GROUPS = {
    "data and folders": ("data_dir", "test_fraction", "class_names", "save_dir", "log_dir", "classifier_dir"),
    "resuming": ("keep_checkpoints", "continue_with_changes", "start_over"),
    # Filled from GanConfig.ARCHITECTURE_KEYS in main(): configs needs the packages that
    # bootstrap makes importable first.
    "model": (),
    "optimisation": (
        "batch_size",
        "steps",
        "epochs",
        "crit_steps",
        "gp_weight",
        "gp_every",
        "gp_center",
        "critic_augment",
        "critic_augment_p",
        "critic_augment_target",
        "critic_augment_speed",
        "critic_consistency",
        "gen_mode_seeking",
        "gen_mode_seeking_space",
        "weight_init",
        "gen_lr",
        "gen_lr_early_factor",
        "gen_lr_early_steps",
        "critic_lr",
        "beta_1",
        "beta_1_early",
        "beta_1_early_steps",
        "beta_2",
        "lr_decay",
        "lr_decay_to",
        "ema_decay",
        "seed",
        "deterministic",
    ),
    "logging, checkpoints and scoring": (
        "steps_per_call",
        "save_every",
        "eval_every",
        "eval_samples",
        "eval",
    ),
    "hardware": ("mixed_precision", "strategy", "cpu_replicas", "collective_timeout"),
}

EPILOG = """examples:
  ./train.py --data-dir datasets/MNIST-5k --steps 3000 --save-dir checkpoints/gan-short
                                             a short run of its own on the offline sample
                                             (into checkpoints/gan it would resume make demo's)
  ./train.py --steps 20000                   resume checkpoints/gan (same data) up to step 20,000
  ./train.py --no-eval --save-dir checkpoints/gan2       a second run, without a classifier
  ./train.py --cpu-replicas 2 --mixed-precision off      two CPU replicas, float32
  ./train.py --config my.yaml          the keys of my.yaml over the defaults, flags over both
"""


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.configs import GanConfig
    from mnist_gan.runtime.flags import parse_args

    groups = {**GROUPS, "model": GanConfig.ARCHITECTURE_KEYS}
    cfg, given = parse_args(GanConfig, argv, __doc__, groups, EPILOG)
    process.setup(deterministic=cfg.deterministic, gradient_penalty=True)
    from mnist_gan.runtime import distribute, precision
    from mnist_gan.training import run_folder
    from mnist_gan.training.gan import train_gan
    from mnist_gan.training.run import print_result

    cfg = run_folder.with_the_runs_classifier(run_folder.with_the_runs_data(cfg, given), given)
    strategy = distribute.make_strategy(cfg.strategy, cfg.cpu_replicas, cfg.collective_timeout)
    print(distribute.describe(strategy))
    print(precision.describe(cfg.mixed_precision))
    with distribute.collective_errors():
        print_result(train_gan(cfg, strategy), cfg.log_dir)
    return 0


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]), hold=True)
