"""What every front-end script shares: quiet TensorFlow start-up and one-line errors."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
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


def quiet_tensorflow() -> None:
    """Start TensorFlow without its C++ start-up chatter; call before importing TensorFlow.

    TF_CPP_MIN_LOG_LEVEL does not reach the lines printed before absl logging starts (CUDA
    probing on a machine without a GPU, CPU-feature notes), so the import and the device
    discovery run with stderr closed; level 3 keeps later C++ logging quiet too. A real
    failure still reaches the user as a Python exception, printed after stderr is back.
    Set TF_CPP_MIN_LOG_LEVEL yourself (e.g. 0) to see everything TensorFlow says.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_silenced():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()


def _mute_tensorflow_logs() -> None:
    """No TensorFlow warnings after an error line (e.g. the dozens of unrestored values a
    refused checkpoint lists when its objects are deleted at exit)."""
    import logging

    logging.getLogger("tensorflow").setLevel(logging.CRITICAL)


def run(main: Callable[[], int]) -> None:
    """Run ``main``; known errors become one line on stderr and an exit status.

    2: bad input (file, flag, config, checkpoint, or an OS error such as a read-only
    folder); 3: training diverged; 128 + N: stopped by signal N after saving.
    """
    from mnist_gan.errors import TrainingDiverged, UserError

    try:
        sys.exit(main())
    except (UserError, OSError) as e:
        _mute_tensorflow_logs()
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(
            f"interrupted ({signal.Signals(signum).name}); run the same command again to resume "
            "from the last checkpoint",
            file=sys.stderr,
        )
        sys.exit(128 + signum)
