"""Step progress on stderr: plain lines off a terminal, a live timer on one, nothing when off."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest

from custseg.progress import StepProgress


class FakeClock:
    """Seconds that advance only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    yield FakeClock()


def test_plain_lines_give_each_step_its_start_time_and_end_with_done(clock: FakeClock) -> None:
    stream = io.StringIO()
    with StepProgress(stream=stream, clock=clock) as progress:
        progress("Loading raw files")
        clock.now += 0.4
        progress("Building features with dbt")
        clock.now += 4.25
    assert stream.getvalue() == (
        "[   0.0s] Loading raw files\n[   0.4s] Building features with dbt\n[   4.7s] Done\n"
    )


def test_a_pipe_is_not_a_terminal_so_lines_stay_plain(clock: FakeClock) -> None:
    progress = StepProgress(stream=io.StringIO(), clock=clock)
    assert progress.live is False


def test_an_error_closes_the_step_without_done(clock: FakeClock) -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError), StepProgress(stream=stream, clock=clock) as progress:
        progress("Publishing")
        raise RuntimeError("boom")
    assert stream.getvalue() == "[   0.0s] Publishing\n"


def test_disabled_writes_nothing(clock: FakeClock) -> None:
    stream = TerminalStream()
    with StepProgress(enabled=False, stream=stream, clock=clock) as progress:
        progress("Loading raw files")
        clock.now += 3
    assert stream.getvalue() == ""


def test_on_a_terminal_the_step_line_is_redrawn_and_ends_with_its_duration(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    stream = TerminalStream()
    with StepProgress(stream=stream, clock=clock) as progress:
        assert progress.live
        progress("Building staging models and customer features with dbt, a long message")
        clock.now += 2.5
        progress("Clustering")
        clock.now += 0.3
    text = stream.getvalue()
    lines = [line.rstrip() for line in text.split("\r") if line.strip()]
    # Each redraw starts at the beginning of the line and fits the 60-column terminal.
    assert all(len(line) <= 59 for chunk in lines for line in chunk.split("\n"))
    assert "\r[   0.0s] Building staging models and customer fe... (2.5s)\n" in text
    assert "\r[   2.5s] Clustering (0.3s)\n" in text
    assert text.endswith("[   2.8s] Done\n")


def test_the_live_timer_ticks_while_a_step_runs(clock: FakeClock) -> None:
    stream = TerminalStream()
    with StepProgress(stream=stream, clock=clock) as progress:
        progress("Waiting")
        assert stream.getvalue() == "\r[   0.0s] Waiting (0.0s)"
        clock.now += 1.5
        # Nothing calls the progress any more: only its timer can redraw the line with the time
        # the clock now shows. The deadline only stops a hung test; a tick comes every 0.2 s.
        deadline = time.monotonic() + 60
        while "\r[   0.0s] Waiting (1.5s)" not in stream.getvalue():
            assert time.monotonic() < deadline, f"the timer never redrew: {stream.getvalue()!r}"
            time.sleep(0.01)
        assert "\n" not in stream.getvalue()  # redrawn in place, the step is not closed
