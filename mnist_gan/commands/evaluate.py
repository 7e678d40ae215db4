"""Score a trained generator with the classifier: FID and its floor, accuracy per digit,
classifier score, CAS and precision/recall, each beside its real-data reference."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mnist_gan import bootstrap, cli


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.config import EvaluateConfig, parse_args

    cfg, _ = parse_args(EvaluateConfig, argv, __doc__)
    cli.quiet_tensorflow()
    from mnist_gan import checkpoints, data, files, generation, scoring

    train, test = data.load(cfg.data_dir)
    classifier = checkpoints.load_classifier(cfg.classifier_dir)
    generator, gan_cfg, path = generation.load_generator(cfg.checkpoint_dir, cfg.step)
    print(f"scoring {path} with {cfg.num_samples} generated digits...")
    report = scoring.evaluate_generator(
        lambda z, y: generator([z, y], training=False),
        classifier,
        # Only as many real train digits as samples are used (references of the same size).
        (data.to_model_range(train.images[: cfg.num_samples]).numpy(), train.labels[: cfg.num_samples]),
        (data.to_model_range(test.images).numpy(), test.labels),
        num_samples=cfg.num_samples,
        noise_dim=gan_cfg.noise_dim,
        seed=cfg.seed,
        cas=not cfg.skip_cas,
        cas_epochs=cfg.cas_epochs,
    )
    print(scoring.format_report(report))
    if cfg.output:
        payload = {"checkpoint": path, "config": cfg.to_dict(), **report.to_json()}
        files.atomic_write_text(Path(cfg.output), json.dumps(payload, indent=2) + "\n")
        print(f"metrics: {cfg.output}")
    return 0


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]))
