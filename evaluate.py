#!/usr/bin/env python3
"""Score a trained generator with the classifier: FID and its floor, accuracy per digit,
classifier score, CAS, precision/recall, an independent reader's accuracy (3-NN in pixels
fitted on the test digits) and a memorisation check, each beside its real-data reference."""

from mnist_gan import bootstrap

# Before anything imports TensorFlow: re-run with .venv/bin/python, or one error line.
bootstrap.require_runtime(__file__)

from mnist_gan.commands.evaluate import entry, main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    entry()
