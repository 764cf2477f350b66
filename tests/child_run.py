"""``custseg`` in a child process, to kill, pause or interrupt it at a chosen moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

CUSTSEG = str(Path(sys.executable).with_name("custseg"))


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without custseg's and libpq's variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUSTSEG_", "PG"))}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return {**env, **(extra or {})}


class Run:
    """``custseg run`` in a child process whose progress lines are collected as they come."""

    def __init__(
        self, data_dir: Path, project: Path, *extra: str, env: Mapping[str, str] | None = None
    ) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [CUSTSEG, "run", "--data-dir", str(data_dir), "--project-dir", str(project), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(env),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never came:\n{''.join(self.lines)}")
            time.sleep(0.01)

    def kill(self, signum: int = signal.SIGKILL) -> int:
        """Send ``signum`` and return the exit status (negative: the signal that ended it)."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)  # every line the run wrote before it died
        return code

    def printed(self, text: str) -> bool:
        """Whether the run wrote a progress line holding ``text`` (it writes each one, flushed,
        before starting the step)."""
        return any(text in line for line in self.lines)

    def pause(self) -> None:
        """Stop the process (SIGSTOP) and return once it is stopped: it keeps its locks."""
        self.process.send_signal(signal.SIGSTOP)
        stat = Path(f"/proc/{self.process.pid}/stat")
        deadline = time.monotonic() + 60  # only against a hung test; stopping is immediate
        # The state is the field after the parenthesised command name: T when stopped.
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
            assert time.monotonic() < deadline, "the run did not stop"
            time.sleep(0.01)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def wait(self) -> int:
        # A guard against a hung run, not a time limit: a whole run on a busy 2-core machine
        # has taken over two minutes.
        code = self.process.wait(timeout=900)
        self._reader.join(timeout=5)
        return code
