"""What every front-end script shares: each known error as one line and an exit status."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


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
    from mnist_gan.runtime.errors import TrainingDiverged, UserError

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
