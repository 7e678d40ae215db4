"""Draw images of each class with a trained generator: PNGs, a grid, latent walks, a SavedModel."""

from __future__ import annotations

import sys

from mnist_gan import bootstrap
from mnist_gan.runtime import cli, process


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.configs import GenerateConfig
    from mnist_gan.runtime.flags import parse_args

    cfg, _ = parse_args(GenerateConfig, argv, __doc__)
    process.setup()
    from mnist_gan.drawing import write_outputs

    written = write_outputs(cfg)
    print(f"drawn from {written['checkpoint'][0]}")  # which of the folder's checkpoints
    if written["images"]:
        first = written["images"][0]
        pattern = "digit*.png" if first.name.startswith("digit") else "class-*.png"
        print(f"{len(written['images'])} images: {first.parent}/{pattern}")
    for kind in ("grid", "interpolation", "export"):
        for path in written[kind]:
            print(f"{kind}: {path}")
    return 0


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]))
