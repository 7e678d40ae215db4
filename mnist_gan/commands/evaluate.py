"""Score a trained generator with the classifier: FID and its floor, accuracy per digit,
classifier score, CAS, precision/recall and a memorisation check (are generated digits
copies of training digits?), each beside its real-data reference. Writes nearest.png (the
generated digits most at risk beside their nearest training digits) next to the JSON.

By default the data and the classifier are the ones the GAN was trained with (named in its
config-gan.yaml), and the metrics go to CHECKPOINT_DIR/eval/metrics-<step>.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mnist_gan import bootstrap, cli

# The sample size of the default when the test split is larger (full MNIST: its 10,000).
MAX_DEFAULT_SAMPLES = 10_000


def from_run(cfg: Any, saved: dict[str, Any] | None) -> tuple[Any, list[str]]:
    """``cfg`` with the data and classifier left empty filled from the GAN's saved config;
    returns it and the notes to print about what was taken from the run."""
    from mnist_gan.config import DEFAULT_DATA_DIR, GanConfig, defaults

    run = saved or {}
    fallback = defaults(GanConfig)
    notes = []
    changes = {}
    for key, default in (("data_dir", DEFAULT_DATA_DIR), ("classifier_dir", fallback.classifier_dir)):
        if not getattr(cfg, key):
            changes[key] = run.get(key) or default
            notes.append(f"--{key.replace('_', '-')} {changes[key]}")
    if notes:
        notes = [f"as the GAN was trained: {', '.join(notes)} (from {cfg.checkpoint_dir}/config-gan.yaml)"]
    return cfg.replace(**changes), notes


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.config import ConfigError, EvaluateConfig, parse_args

    cfg, _ = parse_args(EvaluateConfig, argv, __doc__)
    cli.quiet_tensorflow()
    from mnist_gan import checkpoints, data, files, generation, scoring

    cfg, notes = from_run(cfg, checkpoints.saved_config(cfg.checkpoint_dir, checkpoints.GAN_CONFIG))
    if 0 < cfg.eval_samples < 20:  # covariances and k-NN need a few; negatives: see limits
        raise ConfigError(f"eval_samples must be 0 (the test split) or >= 20, got {cfg.eval_samples}")
    if cfg.output not in ("", "-"):  # a path the user chose: checked before anything else
        scoring.check_outputs(cfg.output)
    # The GAN next: without one, "no trained GAN here" is the error worth reading.
    generator, gan_cfg, path = generation.load_generator(cfg.checkpoint_dir, cfg.step)
    output = None
    if cfg.output != "-":
        output = Path(
            cfg.output or Path(cfg.checkpoint_dir) / "eval" / f"metrics-{path.rsplit('-', 1)[-1]}.json"
        )
    nearest = scoring.check_outputs(str(output)) if output is not None else None  # before the work
    train, test = data.load(cfg.data_dir)
    classifier = checkpoints.load_classifier(cfg.classifier_dir)
    samples = cfg.eval_samples
    if samples == 0:
        samples = min(len(test.labels), MAX_DEFAULT_SAMPLES)
        notes.append(
            f"scoring {samples:,} generated digits, the size of the test split (at most "
            f"{MAX_DEFAULT_SAMPLES:,}); FID falls with the sample size, so compare scores "
            "at the same --eval-samples"
        )
    for note in notes:
        print(f"note: {note}")
    print(f"scoring {path} with {samples} generated digits...")
    report = scoring.evaluate_generator(
        lambda z, y: generator([z, y], training=False),
        classifier,
        # All train digits: the memorisation check searches them all for each digit's nearest;
        # the other references use as many as samples are scored.
        (data.to_model_range(train.images).numpy(), train.labels),
        (data.to_model_range(test.images).numpy(), test.labels),
        num_samples=samples,
        noise_dim=gan_cfg.noise_dim,
        seed=cfg.seed,
        cas=cfg.cas,
        cas_epochs=cfg.cas_epochs,
    )
    print(scoring.format_report(report))
    if output is not None:
        payload = {
            "checkpoint": path,
            "config": cfg.replace(eval_samples=samples).to_dict(),
            **report.to_json(),
        }
        files.atomic_write_text(output, json.dumps(payload, indent=2) + "\n")
        print(f"metrics: {output}")
    if nearest is None:
        print("nearest.png: not written (--output -: no folder for it)")
    elif scoring.write_nearest(report, nearest):
        print(f"generated digits most at risk beside their nearest training digits: {nearest}")
    return 0


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]))
