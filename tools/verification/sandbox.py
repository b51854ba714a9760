"""Runs jobs in the `worker` subprocess with a per-job timeout and a memory cap.

The worker streams one JSON line per finished job. When a job exceeds its timeout the
worker is killed, the job is reported as timed out, and a fresh worker continues with
the jobs that remain: one hanging reference cannot stall or take down a whole run.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SandboxLimits(BaseModel):
    timeout_s: float = 120.0
    """Wall-clock limit for one job."""
    memory_bytes: int = 16 * 1024**3
    """Address-space cap for the worker process (0: none)."""
    forbid_writes: bool = True
    """Forbid the worker from writing files (untrusted code)."""


def run_jobs(jobs: list[dict[str, Any]], limits: SandboxLimits | None = None, *, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Run `jobs` (each with a unique `id` and a `kind`), returning results by id."""
    limits = limits or SandboxLimits()
    results: dict[str, dict[str, Any]] = {}
    remaining = list(jobs)
    while remaining:
        finished = _run_worker(remaining, limits, env)
        results.update(finished)
        remaining = [job for job in remaining if job["id"] not in results]
    return results


def _run_worker(jobs: list[dict[str, Any]], limits: SandboxLimits, env: dict[str, str] | None) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="fi-trace-sandbox-") as workdir:
        spec_path = Path(workdir) / "jobs.json"
        spec_path.write_text(json.dumps({"jobs": jobs, "memory_bytes": limits.memory_bytes, "forbid_writes": limits.forbid_writes}))
        child_env = dict(os.environ, **(env or {}))
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), child_env.get("PYTHONPATH")]))
        child_env["PYTHONDONTWRITEBYTECODE"] = "1"
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.verification.worker", str(spec_path)],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
        )
        selector = selectors.DefaultSelector()
        assert process.stdout is not None
        selector.register(process.stdout, selectors.EVENT_READ)
        buffer = b""
        index = 0
        deadline = time.monotonic() + _STARTUP_GRACE_S
        try:
            while index < len(jobs):
                wait = deadline - time.monotonic()
                if wait <= 0:
                    results[jobs[index]["id"]] = {"ok": False, "timed_out": True, "error": f"timed out after {limits.timeout_s:.0f} s"}
                    break
                if not selector.select(timeout=wait):
                    continue
                chunk = process.stdout.read1(65536) if hasattr(process.stdout, "read1") else os.read(process.stdout.fileno(), 65536)
                if not chunk:  # the worker died
                    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                    process.wait()
                    results[jobs[index]["id"]] = {
                        "ok": False,
                        "crashed": True,
                        "error": _crash_message(process.returncode, stderr),
                    }
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    result = json.loads(line)
                    deadline = time.monotonic() + limits.timeout_s
                    if result.get("ready"):
                        continue  # imports done: the first job's clock starts now
                    results[result["id"]] = result
                    index += 1
        finally:
            selector.close()
            if process.poll() is None:
                process.kill()
            process.wait()
    return results


# Importing torch in a cold worker can take several seconds; not charged to the first job.
_STARTUP_GRACE_S = 60.0


def _crash_message(returncode: int | None, stderr: str) -> str:
    tail = stderr.strip().splitlines()[-3:]
    if returncode is not None and returncode < 0:
        import signal

        name = signal.Signals(-returncode).name
        if name == "SIGXFSZ":
            return "the reference tried to write a file (forbidden)"
        return f"worker killed by {name}" + (f": {' | '.join(tail)}" if tail else "")
    if "MemoryError" in stderr or "std::bad_alloc" in stderr:
        return "the reference exceeded the memory cap"
    return f"worker exited with status {returncode}" + (f": {' | '.join(tail)}" if tail else "")
