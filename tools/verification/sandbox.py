"""Runs jobs in the `worker` subprocess with a per-job timeout and a memory cap.

The worker streams one JSON line per finished job. When a job exceeds its timeout the
worker is killed, the job is reported as timed out, and a fresh worker continues with
the jobs that remain: one hanging reference cannot stall or take down a whole run.
On a GPU the worker first prepares the FlashInfer bindings of its jobs (a JIT build can
take minutes); each preparation has its own time limit, and a crash or a timeout while
preparing is charged to the job being prepared.

The worker runs in a process group of its own, killed as a whole whenever `run_jobs`
stops using it, by a `finally`: after the last job, a timeout, a crash, or an exception
that interrupts the agent (Ctrl-C or SIGTERM, see `agent/interruption.py`). Nothing it
started outlives the call; and should the agent itself be killed outright, the worker
dies with it (`worker.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from pydantic import BaseModel

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SandboxLimits(BaseModel):
    timeout_s: float = 120.0
    """Wall-clock limit for one job."""
    memory_bytes: int = 16 * 1024**3
    """Address-space cap for the worker process (0: none)."""
    forbid_writes: bool = True
    """Forbid the worker from writing files (untrusted code)."""
    prepare_timeout_s: float = 900.0
    """Wall-clock limit for building and first running one FlashInfer binding (GPU only)."""
    device: str = "cpu"
    """Where jobs run: `cpu`, or `cuda` (then set memory_bytes to 0: CUDA reserves more
    address space than any useful cap)."""


GPU_LIMITS = SandboxLimits(timeout_s=600.0, memory_bytes=0, device="cuda")
"""Limits for verification against FlashInfer on a GPU."""


EventListener = Callable[[dict[str, Any]], None]
"""Called with each `preparing`/`prepared` line and each job's result, as they arrive."""


def run_jobs(
    jobs: list[dict[str, Any]],
    limits: SandboxLimits | None = None,
    *,
    env: dict[str, str] | None = None,
    on_event: EventListener | None = None,
) -> dict[str, dict[str, Any]]:
    """Run `jobs` (each with a unique `id` and a `kind`), returning results by id."""
    limits = limits or SandboxLimits()
    results: dict[str, dict[str, Any]] = {}
    remaining = list(jobs)
    notify = on_event or (lambda event: None)
    while remaining:
        finished = _run_worker(remaining, limits, env, notify)
        results.update(finished)
        remaining = [job for job in remaining if job["id"] not in results]
    return results


def _run_worker(jobs: list[dict[str, Any]], limits: SandboxLimits, env: dict[str, str] | None, notify: EventListener) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="fi-trace-sandbox-") as workdir:
        spec_path = Path(workdir) / "jobs.json"
        spec_path.write_text(
            json.dumps(
                {"jobs": jobs, "memory_bytes": limits.memory_bytes, "forbid_writes": limits.forbid_writes, "device": limits.device, "parent": os.getpid()}
            )
        )
        child_env = dict(os.environ, **(env or {}))
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), child_env.get("PYTHONPATH")]))
        child_env["PYTHONDONTWRITEBYTECODE"] = "1"
        child_env.setdefault("CUDA_CACHE_DISABLE", "1")  # the driver's compiled-code cache would be a file write
        with _worker([sys.executable, "-m", "tools.verification.worker", str(spec_path)], workdir, child_env) as process:
            return _read_results(process, jobs, limits, notify)


@contextlib.contextmanager
def _worker(command: list[str], workdir: str, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """The worker, ended with everything it started (a JIT build's compilers) when the
    block ends, however it ends: done, timed out, crashed, or interrupted (a signal
    raises in the agent; see agent/interruption.py)."""
    # A process group of its own, which the worker's children join: one kill ends them
    # all. A Ctrl-C at the terminal then reaches only the agent, which ends the worker here.
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        yield process
    finally:
        _kill_group(process)
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _kill_group(process: subprocess.Popen) -> None:
    # Only while the worker is not reaped: until then its group id cannot be reused.
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _read_results(process: subprocess.Popen, jobs: list[dict[str, Any]], limits: SandboxLimits, notify: EventListener) -> dict[str, dict[str, Any]]:
    """The worker's results, until every job has one or the current job timed out or crashed."""
    assert process.stdout is not None and process.stderr is not None
    results: dict[str, dict[str, Any]] = {}
    stderr_tail = b""
    buffer = b""
    index = 0
    preparing: str | None = None  # the job whose binding the worker is building, if any
    deadline = time.monotonic() + _STARTUP_GRACE_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        # stderr is drained as it comes (a JIT build logs a lot; a full pipe would block
        # the worker), keeping only its tail for crash messages.
        selector.register(process.stderr, selectors.EVENT_READ)
        while index < len(jobs):
            current = preparing or jobs[index]["id"]
            wait = deadline - time.monotonic()
            if wait <= 0:
                limit = limits.prepare_timeout_s if preparing else limits.timeout_s
                stage = "building the FlashInfer binding " if preparing else ""
                results[current] = {"ok": False, "timed_out": True, "error": f"timed out {stage}after {limit:.0f} s"}
                if preparing:
                    results[current]["stage"] = "prepare"
                notify({"id": current, **results[current]})
                break
            ready = [key.fileobj for key, _ in selector.select(timeout=wait)]
            if process.stderr in ready:
                data = _read_available(process.stderr)
                if data:
                    stderr_tail = (stderr_tail + data)[-_STDERR_TAIL_BYTES:]
                else:
                    selector.unregister(process.stderr)
            if process.stdout not in ready:
                continue
            chunk = _read_available(process.stdout)
            if not chunk:  # the worker died
                returncode = _exit_status(process)
                _kill_group(process)  # what it started may still hold stderr open
                stderr_tail = (stderr_tail + process.stderr.read())[-_STDERR_TAIL_BYTES:]
                results[current] = {"ok": False, "crashed": True, "error": _crash_message(returncode, stderr_tail.decode(errors="replace"))}
                if preparing:
                    results[current]["stage"] = "prepare"
                notify({"id": current, **results[current]})
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                result = json.loads(line)
                if not result.get("ready"):
                    notify(result)
                if "preparing" in result:
                    preparing = result["preparing"]
                    deadline = time.monotonic() + limits.prepare_timeout_s
                    continue
                if "prepared" in result:
                    preparing = None
                    deadline = time.monotonic() + limits.prepare_timeout_s
                    continue
                if "restart" in result:
                    index = len(jobs)  # the worker quits; run_jobs starts a fresh one for the rest
                    break
                deadline = time.monotonic() + limits.timeout_s
                if result.get("ready"):
                    continue  # imports done: the first job's clock starts now
                results[result["id"]] = result
                index += 1
    return results


def _exit_status(process: subprocess.Popen) -> int:
    """How the worker ended, as Popen.returncode says it, without reaping it (see `_kill_group`)."""
    info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


_STDERR_TAIL_BYTES = 16384


def _read_available(stream) -> bytes:
    return stream.read1(65536) if hasattr(stream, "read1") else os.read(stream.fileno(), 65536)


# Importing torch in a cold worker can take several seconds; not charged to the first job.
_STARTUP_GRACE_S = 60.0


def _crash_message(returncode: int | None, stderr: str) -> str:
    tail = stderr.strip().splitlines()[-3:]
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        if name == "SIGXFSZ":
            return "the reference tried to write a file (forbidden)"
        return f"worker killed by {name}" + (f": {' | '.join(tail)}" if tail else "")
    if "MemoryError" in stderr or "std::bad_alloc" in stderr:
        return "the reference exceeded the memory cap"
    return f"worker exited with status {returncode}" + (f": {' | '.join(tail)}" if tail else "")
