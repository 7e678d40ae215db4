#!/usr/bin/env python3
"""Score a trained generator with the classifier: FID and its floor, accuracy per digit,
classifier score, CAS, precision/recall and a memorisation check (are generated digits
copies of training digits?), each beside its real-data reference. Writes nearest.png
(the generated digits most at risk beside their nearest training digits) next to the JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mnist_gan import cli


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.config import EvaluateConfig, parse_args

    cfg, _ = parse_args(EvaluateConfig, argv, __doc__)
    cli.quiet_tensorflow()
    from mnist_gan import checkpoints, data, files, generation, scoring

    nearest = scoring.check_outputs(cfg.output)
    train, test = data.load(cfg.data_dir)
    classifier = checkpoints.load_classifier(cfg.classifier_dir)
    generator, gan_cfg, path = generation.load_generator(cfg.checkpoint_dir, cfg.step)
    print(f"scoring {path} with {cfg.num_samples} generated digits...")
    report = scoring.evaluate_generator(
        lambda z, y: generator([z, y], training=False),
        classifier,
        # All train digits: the memorisation check searches them all for each digit's nearest;
        # the other references use as many as samples are scored.
        (data.to_model_range(train.images).numpy(), train.labels),
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
    if nearest is None:
        print("nearest.png: not written (--output is '', so there is no folder for it)")
    elif scoring.write_nearest(report, nearest):
        print(f"generated digits most at risk beside their nearest training digits: {nearest}")
    return 0


if __name__ == "__main__":
    cli.run(lambda: main(sys.argv[1:]))
