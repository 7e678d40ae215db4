"""mnist-gan: a class-conditional WGAN-GP on handwritten digits, scored by its own classifier.

Submodules are imported on demand so that light tools (the IDX reader, the sample
writer) run without TensorFlow installed.
"""

__version__ = "0.1.0"
