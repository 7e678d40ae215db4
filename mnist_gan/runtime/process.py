"""The process-wide TensorFlow settings of every command, set in one place."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: C++ code writes there, past Python's sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def prefer_onednn() -> None:
    """TensorFlow's oneDNN kernels unless the user chose (TF_ENABLE_ONEDNN_OPTS set, to 0 or
    1); call before importing TensorFlow, which reads the variable once, at import.

    On Linux TensorFlow turns them on by itself only where the CPU has AVX512-VNNI, AVX-VNNI,
    AVX512-BF16 or AMX, so machines with those (and every GPU machine built on such a CPU)
    already run them. On a CPU with AVX2 alone the GAN step is markedly faster with them
    (README, Speed; ``benchmarks/onednn.py`` measures it on any machine).
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def onednn_enabled() -> bool | None:
    """Whether this process's TensorFlow runs oneDNN kernels (None: it cannot tell)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a private module: gone in some later TensorFlow
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def onednn_state() -> str:
    """:func:`onednn_enabled` as printed: 'on', 'off' or 'unknown'."""
    return {True: "on", False: "off", None: "unknown"}[onednn_enabled()]


def quiet_tensorflow() -> None:
    """Start TensorFlow without its C++ start-up chatter; call before importing TensorFlow.

    TF_CPP_MIN_LOG_LEVEL does not reach the lines printed before absl logging starts (CUDA
    probing on a machine without a GPU, CPU-feature notes), so the import and the device
    discovery run with stderr closed; level 3 keeps later C++ logging quiet too. A real
    failure still reaches the user as a Python exception, printed after stderr is back.
    Set TF_CPP_MIN_LOG_LEVEL yourself (e.g. 0) to see everything TensorFlow says.
    """
    prefer_onednn()
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_silenced():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()


def configure_tensorflow(*, deterministic: bool = False, gradient_penalty: bool = False) -> None:
    """Settings that hold for the whole process (precision stays per model: see ``precision``).

    ``gradient_penalty``: the process trains a WGAN-GP. Grappler's remapper fails on the
    penalty's double-backprop graph and logs an error at every trace; with it off the step
    measured the same speed. Other processes keep its fusions.
    """
    import tensorflow as tf

    if gradient_penalty:
        tf.config.optimizer.set_experimental_options({"remapping": False})
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def setup(*, deterministic: bool = False, gradient_penalty: bool = False) -> None:
    """Start TensorFlow quietly and configure it: the first thing a command does after its checks."""
    quiet_tensorflow()
    configure_tensorflow(deterministic=deterministic, gradient_penalty=gradient_penalty)
