"""The agent as a real subprocess: started as a background job, stopped by a signal, and
the processes it started, read from /proc (Linux).

Tests wait for events only: a request reaching the loopback endpoint, a progress line
on the agent's stderr, a process appearing. The one clock is the acceptance bound on
how long the agent may take to stop once signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 5.0
"""The acceptance bound: a signalled run has exited within this many seconds."""
GUARD_S = 900.0
"""How long to wait for an event before calling it a hang (never reached by a working agent)."""

# How a non-interactive shell starts `agent ... &`: with SIGINT ignored, which the process
# inherits. The agent must stop on `kill -INT` all the same.
_AS_BACKGROUND_JOB = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, '-m', 'agent.cli', *sys.argv[1:]])"
)


def agent_env(**extra: str) -> dict[str, str]:
    # REPO first, keeping what is there (the GPU machine's bundle is on PYTHONPATH).
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])), **extra)


class Agent:
    """`agent ARGS` running in the background, its stderr read line by line as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _AS_BACKGROUND_JOB, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or agent_env(),
            cwd=REPO,
        )
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def stderr(self) -> str:
        with self._new_line:
            return "".join(self.lines)

    def wait_for_line(self, text: str) -> str:
        """The first stderr line containing `text`, once the agent has printed it."""
        deadline = time.monotonic() + GUARD_S
        with self._new_line:
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                assert self.running, f"the agent ended without printing {text!r}:\n{''.join(self.lines)}"
                assert time.monotonic() < deadline, f"no line with {text!r} within {GUARD_S:.0f} s"
                self._new_line.wait(timeout=1.0)  # wakes on each line; the timeout only rechecks `running`

    def wait_for_descendant(self, text: str) -> int:
        """The pid of a process the agent started whose command line contains `text`, once it runs."""
        deadline = time.monotonic() + GUARD_S
        while True:
            found = [pid for pid in descendants(self.process.pid) if text in command_line(pid)]
            if found:
                return found[0]
            assert self.running, f"the agent ended without starting {text!r}:\n{self.stderr}"
            assert time.monotonic() < deadline, f"no process {text!r} within {GUARD_S:.0f} s"
            time.sleep(0.05)  # /proc offers no event to wait on

    def finish(self) -> subprocess.CompletedProcess:
        """Let the agent run to its end."""
        try:
            self.process.wait(timeout=GUARD_S)
        finally:
            if self.running:
                self.process.kill()
        self._reader.join()
        assert self.process.stdout is not None
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, self.process.stdout.read(), self.stderr)

    def stop(self, signum: int) -> Stopped:
        """Send `signum`: the exit status, how long the agent took to exit, and what it left running."""
        started = descendants(self.process.pid)
        sent = time.monotonic()
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=GUARD_S)
        finally:
            if self.running:
                self.process.kill()
        seconds = time.monotonic() - sent
        left = {pid for pid in started | groups_of(started) if alive(pid)}
        kill_all(left)  # so that a failing test leaves nothing busy, nor holding the agent's pipes
        self._reader.join()
        assert self.process.stdout is not None
        return Stopped(status=self.process.returncode, seconds=seconds, stdout=self.process.stdout.read(), stderr=self.stderr, started=started, left=left)


@dataclass
class Stopped:
    status: int
    seconds: float
    stdout: str
    stderr: str
    started: set[int]
    """The processes the agent had started when it was signalled."""
    left: set[int]
    """Those (and anything in their process groups) still alive after the agent exited."""


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields after `pid (comm)`: state, ppid, pgrp, ...


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`."""
    children: dict[int, list[int]] = {}
    for other in _all_pids():
        fields = _stat(other)
        if fields:
            children.setdefault(int(fields[1]), []).append(other)
    found, frontier = set(), [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def groups_of(pids: set[int]) -> set[int]:
    """Every living process in the process groups `pids` lead."""
    return {other for other in _all_pids() if (fields := _stat(other)) and int(fields[2]) in pids}


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_all(pids: set[int]) -> None:
    """Clean up after a failed test, so that one failure does not leave busy processes."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
