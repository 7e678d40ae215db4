"""Progress on stderr: tqdm's bar on a terminal, plain lines in a file."""

from __future__ import annotations

import io
import sys

import pytest
from tqdm import tqdm

from mnist_gan.runtime import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_tqdm_and_a_file_gets_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Terminal())
    shown = progress.bar(total=10, desc="gan", unit="step")
    assert isinstance(shown, tqdm)
    shown.close()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(progress.bar(total=10, desc="gan", unit="step"), progress.LineProgress)
    assert isinstance(progress.status("evaluate"), progress.LineProgress)


def test_lines_carry_the_count_rate_and_postfix() -> None:
    out = io.StringIO()
    shown = progress.LineProgress(total=8, initial=2, desc="gan", unit="step", every=0.0, file=out)
    shown.set_postfix({"critic_loss": "-0.01"})
    shown.update(2)
    shown.update(4)
    shown.close()  # nothing new since the last line: no repeat
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("gan: 4/8 steps (50%), ") and "step/s" in lines[0] and "min left" in lines[0]
    assert lines[0].endswith("; critic_loss -0.01")
    assert lines[1].startswith("gan: 8/8 steps (100%)") and "min left" not in lines[1]


def test_lines_wait_for_the_interval_and_the_close_prints_the_last() -> None:
    out = io.StringIO()
    shown = progress.LineProgress(total=100, desc="train", unit="step", every=3600.0, file=out)
    for _ in range(100):
        shown.update(1)
    assert out.getvalue() == ""
    shown.close()
    assert out.getvalue().startswith("train: 100/100 steps (100%)")


def test_a_count_stopped_short_leaves_no_last_line_with_time_left() -> None:
    out = io.StringIO()
    shown = progress.LineProgress(total=100, desc="gan", unit="step", every=3600.0, file=out)
    shown.update(40)
    shown.close()  # interrupted: the run's own message says where it stopped
    assert out.getvalue() == ""


def test_disabled_lines_print_nothing() -> None:
    out = io.StringIO()
    shown = progress.LineProgress(total=4, desc="gan", unit="step", disable=True, every=0.0, file=out)
    shown.update(4)
    shown.set_description_str("evaluate, stage 1/2: drawing")
    shown.close()
    assert out.getvalue() == ""


def test_status_text_is_one_line_per_stage() -> None:
    out = io.StringIO()
    shown = progress.LineProgress(0, desc="evaluate", file=out)
    shown.set_description_str("evaluate, stage 1/2: drawing the digits")
    shown.set_description_str("evaluate: done in 3 s")
    shown.close()
    assert out.getvalue().splitlines() == ["evaluate, stage 1/2: drawing the digits", "evaluate: done in 3 s"]
