"""Draw images of each class with a trained generator: PNGs, a grid, latent walks, a SavedModel."""

from __future__ import annotations

import sys

from mnist_gan import bootstrap
from mnist_gan.runtime import cli, process


def main(argv: list[str] | None = None) -> int:
    from mnist_gan.configs import GenerateConfig
    from mnist_gan.runtime.flags import parse_args

    cfg, given = parse_args(GenerateConfig, argv, __doc__)
    if cfg.export:
        # --no-interpolate asks for no picture: beside --export it is no conflict.
        _pictures_only(given if cfg.interpolate else given - {"interpolate"})
    process.setup()
    from mnist_gan.drawing import write_outputs

    written = write_outputs(cfg)
    print(f"drawn from {written['checkpoint'][0]}")  # which of the folder's checkpoints
    if written["images"]:
        first = written["images"][0]
        pattern = "digit*.png" if first.name.startswith("digit") else "class-*.png"
        count = len(written["images"])
        print(f"{count} image{'s' if count > 1 else ''}: {first.parent}/{pattern}")
    for kind in ("grid", "interpolation", "export"):
        for path in written[kind]:
            print(f"{kind}: {path}")
    return 0


def _pictures_only(given: frozenset[str]) -> None:
    """Refuse the flags of pictures beside --export, which writes the SavedModel alone (its
    signatures take the classes, the count and the seed when called)."""
    from mnist_gan.runtime.errors import ConfigError
    from mnist_gan.runtime.flags import flag

    pictures = ("classes", "count", "seed", "interpolate", "interpolation_frames", "output_dir")
    ignored = [key for key in pictures if key in given]
    if ignored:
        flags = ", ".join(flag(key) for key in ignored)
        raise ConfigError(
            f"--export writes the SavedModel alone (it is asked for classes, counts and seeds when called); "
            f"{flags} {'is' if len(ignored) == 1 else 'are'} for pictures: run ./generate.py again "
            "without --export for those"
        )


def entry() -> None:
    """The console script: check the dependencies, then run with one-line errors."""
    bootstrap.require_runtime()
    cli.run(lambda: main(sys.argv[1:]))
