"""The runtime layer: configuration, errors, files, checkpoints, distribution, precision, the CLI."""
