"""Reference code runs in a subprocess with a timeout, a memory cap and no file writes."""

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.agent.processes import alive, command_line, descendants
from tests.tools.verification.definitions import toy
from tools.verification.reference_check import check_references
from tools.verification.sandbox import SandboxLimits

LIMITS = SandboxLimits(timeout_s=5, memory_bytes=4 * 1024**3)
REPO = Path(__file__).resolve().parents[3]


def test_a_good_reference_passes_and_a_wrong_shape_fails():
    results = check_references([toy("good", "return x * 2"), toy("bad_shape", "return x[:, :4]")], limits=LIMITS)
    assert results["good"].passed
    assert not results["bad_shape"].passed and "shape" in results["bad_shape"].error


def test_a_hanging_reference_times_out_and_the_rest_still_run():
    started = time.monotonic()
    results = check_references([toy("hangs", "while True:\n    pass"), toy("after", "return x + 1")], limits=LIMITS)
    assert not results["hangs"].passed and "timed out" in results["hangs"].error
    assert results["after"].passed
    assert time.monotonic() - started < 60


def test_writing_a_file_is_refused():
    results = check_references([toy("writes", "open('leak.txt', 'w').write('x' * 10)\nreturn x")], limits=LIMITS)
    assert not results["writes"].passed
    assert "write" in results["writes"].error.lower() or "File too large" in results["writes"].error


def test_runaway_allocation_hits_the_memory_cap():
    results = check_references([toy("hog", "big = torch.empty(64 * 1024**3, dtype=torch.uint8)\nbig.fill_(1)\nreturn x")], limits=LIMITS)
    assert not results["hog"].passed
    assert "memory" in results["hog"].error.lower() or "alloc" in results["hog"].error.lower()


def test_nan_outputs_and_nondeterminism_fail():
    results = check_references(
        [toy("nan", "return x * float('nan')"), toy("random", "return x + torch.rand(x.shape) * torch.randint(0, 1000, (1,)).item()")],
        limits=LIMITS,
    )
    assert "non-finite" in results["nan"].error
    # torch is seeded identically before both runs, so the same draws repeat: deterministic.
    assert results["random"].passed


# References that remember their calls: each case's second run differs from its first.
REMEMBERS = "run.calls = getattr(run, 'calls', 0) + 1\n"


def test_a_second_run_that_differs_fails_but_one_rounding_step_is_no_difference():
    results = check_references(
        [
            toy("drifts", REMEMBERS + "return x * (1 + (run.calls % 2) * 1e-3)"),
            toy("rounds", REMEMBERS + "return torch.nextafter(x, torch.full_like(x, float('inf'))) if run.calls % 2 else x"),
        ],
        limits=LIMITS,
    )
    assert not results["drifts"].passed and "two runs on the same inputs gave different outputs" in results["drifts"].error
    assert results["rounds"].passed, results["rounds"].error


def test_printing_to_stdout_or_flooding_stderr_does_not_disturb_the_protocol():
    chatty = toy("chatty", "print('debug', x.shape)\nimport sys\nsys.stderr.write('x' * 300_000)\nreturn x + 1")
    results = check_references([chatty, toy("after", "return x + 1")], limits=LIMITS)
    assert results["chatty"].passed, results["chatty"].error
    assert results["after"].passed


def test_the_worker_dies_with_a_killed_parent():
    """SIGKILL leaves the parent no chance to end its worker: the kernel does it (Linux)."""
    driver = (
        "from tests.tools.verification.definitions import toy\n"
        "from tools.verification.reference_check import check_references\n"
        "from tools.verification.sandbox import SandboxLimits\n"
        "jobs = [toy('quick', 'return x + 1'), toy('hangs', 'while True:\\n    pass')]\n"
        "check_references(jobs, limits=SandboxLimits(timeout_s=3600), on_event=lambda event: print(event.get('id'), flush=True))\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", driver], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline() == "quick\n"  # the worker now runs the reference that never returns, and writes nothing
        (worker,) = [p for p in descendants(parent.pid) if "tools.verification.worker" in command_line(p)]
        parent.kill()
        parent.wait()
        assert wait_until(lambda: not alive(worker))
    finally:
        parent.kill()
        parent.wait()


def wait_until(condition, guard_s: float = 600.0):
    """The first true value of `condition()`: an event /proc offers no way to wait on."""
    deadline = time.monotonic() + guard_s
    while not (value := condition()):
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)
    return value
