"""Score a trained generator with the classifier: FID and its floor, accuracy per digit,
classifier score, CAS, precision/recall, the accuracy of an independent reader (3-NN in
pixels fitted on the test digits) and a memorisation check (are generated digits copies of
training digits?), each beside its real-data reference. Writes <json>-nearest.png (the
generated digits most at risk beside their nearest training digits) next to the JSON.

By default the data and the classifier are the ones the GAN was trained with (named in its
config-gan.yaml), and the metrics go to CHECKPOINT_DIR/eval/metrics-<step>.json."""

from __future__ import annotations

import sys

from mnist_gan import bootstrap
from mnist_gan.runtime import cli, process


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.configs import EvaluateConfig
    from mnist_gan.runtime.flags import parse_args

    cfg, _ = parse_args(EvaluateConfig, argv, __doc__)
    process.setup()
    from mnist_gan.eval.run import evaluate

    evaluate(cfg)
    return 0


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]))
