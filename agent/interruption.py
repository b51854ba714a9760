"""Stopping on Ctrl-C (SIGINT) and SIGTERM: one mechanism for every `agent` command.

`agent.cli.main` runs each command inside `stop_on_signals()`, so a command gets all of
this by being a subcommand of `agent.cli` (a new one, `agent batch` say, needs nothing
more). For the length of the command, the first SIGINT or SIGTERM raises `Interrupted`
in the main thread, wherever it is: in the LLM client's HTTP read, while the sandbox
waits for its worker, in a SQLite call. `main` maps it to the exit status: 130 for
SIGINT, 143 for SIGTERM (`agent/exit_codes.py`).

`Interrupted` is a KeyboardInterrupt, so no `except Exception` on the way swallows it
(ours, LangGraph's, openai's), while every `with` and `finally` on the way runs. That is
all the code below the CLI has to do to stop cleanly:

- cleanup in `with`/`finally`: the sandbox kills its worker's process group there
  (`tools/verification/sandbox.py`), temporary directories remove themselves, the
  checkpoint database is closed;
- files written whole or not at all (`tools.dedup_store.write_json_atomic`); LangGraph
  writes a checkpoint in one SQLite transaction after each completed step, so an
  interrupted step is simply redone by `--resume`;
- a few writes that belong together (a log and its index, the eval history and its
  report) go inside `held()`: a signal that arrives in the block is raised when the
  block ends, so it is done whole, and the stop follows at once.

Work must stay in the main thread for this: a signal handler runs only there, so a node
run on a worker thread would be waited for, not stopped. LangGraph runs a step with one
task (every step of our graph) inline.

Three choices, and why:

- The handlers are installed even where SIGINT was ignored when the process started: a
  non-interactive shell starts background jobs that way (`agent extract ... &` in a
  script, a test runner started with `&`), and `kill -INT` must still stop the run.
  That inherited SIG_IGN is how issue 17's run ignored its SIGINT and exited 0.
- A relay thread re-sends a stop signal to the main thread until its handler has run
  (`_Relay`): Python runs handlers only between bytecodes, so a signal that lands just
  before a blocking call, or on another thread, would otherwise wait for that call.
- Signals after the first are ignored while the command unwinds: a second Ctrl-C must
  not cut short the cleanup that ends the sandbox worker. The cleanup is short (a kill
  and a wait), and SIGKILL still works; the sandbox worker dies with the agent even then.

Once `main` has returned the exit status of a stop, the program (`agent.cli.run`) exits
without the interpreter's teardown: unloading torch and LangGraph took seconds on a busy
machine, longer than the rest of the stop, and everything that needed cleaning up was
cleaned up on the way out of `main`. That is why cleanup belongs in `with`/`finally`,
never in `atexit` or a finaliser.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from types import FrameType
from typing import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT or SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class _StopHandler:
    """The handler of SIGINT and SIGTERM while a command runs."""

    def __init__(self) -> None:
        self.received: int | None = None
        """The first stop signal received, if any."""
        self.handled = threading.Event()
        """Set once the main thread has run this handler."""
        self.holding = 0
        """How many `held()` blocks are open: while any is, a signal waits for them to end."""
        self._raised = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.handled.set()
        if self.received is not None:
            return  # already stopping: let the cleanup finish
        self.received = signum
        if self.holding == 0:
            self.raise_pending()

    def raise_pending(self) -> None:
        if self.received is not None and not self._raised:
            self._raised = True
            raise Interrupted(self.received)


class _Relay:
    """Sends a stop signal again to the main thread until its handler has run.

    Python runs a handler only when the main thread next executes bytecode. A signal
    that lands just before the main thread enters a blocking call (the sandbox's select,
    a socket read), or that another thread takes, wakes nothing: the handler would wait
    for the call to return, minutes later. The signal module writes every signal number
    to a wakeup fd; this thread reads it and re-sends the signal to the main thread
    itself, which interrupts its blocking call, until the handler reports it ran.
    """

    RETRY_S = 0.05

    def __init__(self, handler: _StopHandler) -> None:
        self._handler = handler
        self._main = threading.main_thread().ident
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._sending = threading.Lock()
        self._closed = False
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._run, name="stop-signal-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while received := os.read(self._read, 64):
            signum = next((s for s in received if s in STOP_SIGNALS), None)
            while signum is not None and not self._handler.handled.wait(self.RETRY_S):
                with self._sending:
                    if self._closed:
                        return
                    signal.pthread_kill(self._main, signum)

    def close(self) -> None:
        """Called by the main thread before the previous handlers come back."""
        with self._sending:
            self._closed = True
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._write)  # the thread reads the end of the pipe and returns
        self._thread.join()
        os.close(self._read)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[_StopHandler]:
    """Raise `Interrupted` on SIGINT or SIGTERM in the block; the previous handlers come back after it."""
    handler = _StopHandler()
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    relay = _Relay(handler)
    try:
        yield handler
    finally:
        handler.holding += 1  # the command is over: a signal from now on cannot interrupt it
        relay.close()
        for signum, action in previous.items():
            signal.signal(signum, action)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A block that is done whole: a stop signal that arrives in it is raised when it ends.

    Only for short work (a few file writes): the stop waits for it. Outside
    `stop_on_signals()` (a library caller, a test) it does nothing.
    """
    handler = signal.getsignal(signal.SIGINT)
    if not isinstance(handler, _StopHandler):
        yield
        return
    handler.holding += 1
    try:
        yield
    finally:
        handler.holding -= 1
    if handler.holding == 0:
        handler.raise_pending()
