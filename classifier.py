#!/usr/bin/env python3
"""Train the evaluator: a small CNN on MNIST whose accuracy and features judge the GAN."""

from mnist_gan import bootstrap

# Before anything imports TensorFlow: re-run with .venv/bin/python, or one error line.
bootstrap.require_runtime(__file__)

from mnist_gan.commands.classifier import entry, main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    entry()
