"""Progress of long commands on stderr: one line per step, with elapsed times.

The library reports steps through a plain ``progress(message)`` callback (see
:data:`custseg.model.fitting.Progress`); :class:`StepProgress` is such a callback for the command
line.
A step lasts until the next one starts or the command ends.

- On a terminal, the current step's line carries a live timer, rewritten in place a few times
  a second, and ends with the step's duration.
- Anywhere else (a pipe, a log file, CI), only plain lines are written: each step when it starts,
  prefixed with the seconds since the command started, and a last ``Done`` line.
- Disabled (``--quiet``, ``--json``), it writes nothing.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

#: Seconds between two redraws of the live timer.
_TICK_SECONDS = 0.2


class StepProgress:
    """A ``progress(message)`` callback that shows each step and how long it takes.

    Parameters
    ----------
    enabled : bool
        False writes nothing at all.
    stream : text stream, optional
        Where to write (default: ``sys.stderr`` at call time).
    live : bool, optional
        Redraw a timer in place; default: whether ``stream`` is a terminal.
    clock : callable, optional
        Seconds as a float (tests pass a fake clock).

    Use it as a context manager so that the last step is closed, also on an error::

        with StepProgress(enabled=not quiet) as progress:
            run_pipeline(config, progress=progress)
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        live: bool | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.live = _is_terminal(self.stream) if live is None else live
        self._clock = clock
        self._started = clock()
        self._step: str | None = None
        self._step_started = self._started
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def __call__(self, message: str) -> None:
        """Close the current step and start the step ``message``."""
        if not self.enabled:
            return
        self._close_step()
        now = self._clock()
        with self._lock:
            self._step, self._step_started = message, now
            if self.live:
                self._draw(now)
            else:
                self._write(f"[{now - self._started:6.1f}s] {message}\n")
        if self.live:
            self._start_ticker()

    def finish(self, *, ok: bool = True) -> None:
        """Close the current step; after a success, write the total time."""
        if not self.enabled:
            return
        self._close_step()
        if ok:
            elapsed = self._clock() - self._started
            self._write(f"[{elapsed:6.1f}s] Done\n")

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        self.finish(ok=exc_type is None)

    # ------------------------------------------------------------------ helpers

    def _close_step(self) -> None:
        self._stop_ticker()
        with self._lock:
            if self._step is not None and self.live:
                self._draw(self._clock(), final=True)
            self._step = None

    def _draw(self, now: float, *, final: bool = False) -> None:
        """Rewrite the live line: start offset, message (cut to the terminal), step time."""
        assert self._step is not None
        prefix = f"[{self._step_started - self._started:6.1f}s] "
        suffix = f" ({now - self._step_started:.1f}s)"
        width = shutil.get_terminal_size((100, 24)).columns - 1
        room = max(10, width - len(prefix) - len(suffix))
        message = self._step if len(self._step) <= room else self._step[: room - 3] + "..."
        # Within a step the line only grows (the timer), so it needs no padding to overwrite.
        self._write("\r" + prefix + message + suffix + ("\n" if final else ""))

    def _start_ticker(self) -> None:
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="custseg-progress", daemon=True)
        self._ticker.start()

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None

    def _tick(self) -> None:
        while not self._stop.wait(_TICK_SECONDS):
            with self._lock:
                if self._step is not None:
                    self._draw(self._clock())

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
