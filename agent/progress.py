"""Progress lines on stderr: which stage, which kernel, how long."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._started = time.monotonic()

    def stage(self, name: str, message: str) -> None:
        self._write(f"[{name}] {message}")

    def item(self, name: str, index: int, total: int, message: str) -> None:
        self._write(f"[{name} {index}/{total}] {message}")

    def warn(self, message: str) -> None:
        self._write(f"warning: {message}")

    def _write(self, line: str) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self._started
        self.stream.write(f"{elapsed:6.1f}s {line}\n")
        self.stream.flush()
