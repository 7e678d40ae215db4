"""Datasets: IDX files, the offline sample, image folders, and the tf.data pipelines."""
