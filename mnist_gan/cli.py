"""What every front-end script shares: quiet TensorFlow start-up and one-line errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter; call before importing TensorFlow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(main: Callable[[], int]) -> None:
    """Run ``main``; a known bad-input error becomes one line on stderr and exit status 2."""
    from mnist_gan.checkpoints import CheckpointError
    from mnist_gan.config import ConfigError
    from mnist_gan.distribute import DistributionError
    from mnist_gan.idx import IdxError

    try:
        sys.exit(main())
    except (IdxError, ConfigError, CheckpointError, DistributionError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume from the last checkpoint", file=sys.stderr)
        sys.exit(130)
