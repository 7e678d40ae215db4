#!/usr/bin/env python3
"""Draw images of each class with a trained generator: PNGs, a grid, latent walks, a SavedModel."""

from mnist_gan import bootstrap

# Before anything imports TensorFlow: re-run with .venv/bin/python, or one error line.
bootstrap.require_runtime(__file__)

from mnist_gan.commands.generate import entry, main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    entry()
