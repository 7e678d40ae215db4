#!/usr/bin/env python3
"""Train the class-conditional WGAN-GP, scored by the trained classifier while it learns."""

from mnist_gan import bootstrap

# Before anything imports TensorFlow: re-run with .venv/bin/python, or one error line.
bootstrap.require_runtime(__file__)

from mnist_gan.commands.train import entry, main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    entry()
