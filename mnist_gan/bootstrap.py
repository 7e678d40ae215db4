"""Finding the Python that has the dependencies, before anything imports them.

Standard library only: this runs first in every command, in whatever Python the shell
picked (``#!/usr/bin/env python3`` in a terminal where ``.venv`` is not active).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

# Import names of the runtime requirements (requirements.txt).
REQUIRED = ("tensorflow", "keras", "numpy", "yaml", "PIL", "tqdm")
# Set in the environment of a re-executed script, so a broken .venv cannot loop.
_REEXEC_MARK = "MNIST_GAN_REEXEC"


def missing_modules() -> list[str]:
    """The runtime requirements the running Python cannot import."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def require_runtime(script: str | None = None) -> None:
    """Return if the dependencies are importable; else re-run ``script`` with the project's
    ``.venv/bin/python`` (beside the script) or exit 2 with one ``error:`` line."""
    gone = missing_modules()
    if not gone:
        return
    if script is not None and not os.environ.get(_REEXEC_MARK):
        venv_python = Path(script).resolve().parent / ".venv" / "bin" / "python"
        # Compare the prefix, not the resolved executable: a venv's python is a symlink.
        # lexists: a link into an interpreter that is gone is a broken .venv, not a missing one.
        if os.path.lexists(venv_python) and Path(sys.prefix).resolve() != venv_python.parent.parent.resolve():
            os.environ[_REEXEC_MARK] = "1"
            try:
                os.execv(str(venv_python), [str(venv_python), script, *sys.argv[1:]])
            except OSError as e:  # not executable, or a link into an interpreter that is gone
                print(
                    f"error: cannot run {venv_python} ({e.strerror}); remove .venv and run 'make venv' "
                    "again in the project folder, or 'pip install -e .' into the Python you use",
                    file=sys.stderr,
                )
                sys.exit(2)
    print(
        f"error: {sys.executable} lacks the packages {', '.join(gone)}; run 'make venv' in the "
        "project folder (the scripts then find .venv by themselves), or 'pip install -e .' "
        "into the Python you use",
        file=sys.stderr,
    )
    sys.exit(2)
