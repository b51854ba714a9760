"""Subprocess that executes reference code: `python -m tools.verification.worker JOBS.json`.

Reference code is untrusted (an LLM may have written it), so it never runs in the
agent's process. This worker sets its own resource limits before touching any job
(address space, and no file writes when asked), runs each job and prints one JSON line
per job to stdout. The parent (`sandbox.py`) enforces the per-job timeout and restarts
the worker after a kill.

On a GPU (`"device": "cuda"`) the order differs: CUDA reserves more address space than
any cap allows, so there is none, and FlashInfer compiles kernels on first use, so the
worker first prepares every binding its jobs need (printing `preparing`/`prepared`
lines), then forbids file writes and processes, and only then runs reference code.

The parent ends the worker's whole process group when it is done with it; on Linux the
worker also asks the kernel to kill it when the parent dies, so that not even a killed
agent (SIGKILL) leaves a reference running.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any

from tools.verification.execution import as_outputs, load_reference, var_axis_values


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent(parent: int | None) -> None:
    """Be killed when the agent process `parent` dies (Linux; elsewhere the parent's kill must do).

    To the kernel the parent is the thread that started the worker; `run_jobs` waits for
    the worker on that thread, so the two end together."""
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def _limit_resources(memory_bytes: int, forbid_writes: bool) -> None:
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if forbid_writes:
        # Writing to any file (not pipes) now fails; the parent reads our stdout pipe.
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


_FORBIDDEN_EVENTS = (
    "os.remove", "os.unlink", "os.rmdir", "os.rename", "os.replace", "os.truncate", "os.chmod", "os.chown",
    "os.mkdir", "os.symlink", "os.link", "shutil.rmtree", "shutil.move", "shutil.copyfile",
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "subprocess.Popen",
    "socket.connect", "socket.bind", "socket.sendto", "urllib.Request", "ctypes.dlopen",
)


def _forbid_side_effects() -> None:
    """Refuse file writes, deletions, processes and network from here on.

    An audit hook cannot be removed once installed, so reference code cannot undo it;
    RLIMIT_FSIZE alone would still let `open(path, "w")` truncate a file.
    """

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            mode = args[1] if len(args) > 1 else "r"
            flags = args[2] if len(args) > 2 else 0
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
            )
            if writing and args[0] not in (1, 2):
                raise PermissionError(f"reference code may not write files (open {args[0]!r}, mode {mode!r})")
        elif event.startswith(_FORBIDDEN_EVENTS):
            raise PermissionError(f"reference code may not {event}")

    sys.addaudithook(hook)


def summarize(tensor: Any) -> dict[str, Any]:
    import torch

    if not isinstance(tensor, torch.Tensor):
        return {"type": type(tensor).__name__}
    summary: dict[str, Any] = {"shape": list(tensor.shape), "dtype": str(tensor.dtype).replace("torch.", "")}
    if tensor.is_floating_point():
        finite = torch.isfinite(tensor.float())
        summary["finite"] = bool(finite.all())
        summary["nan"] = int(torch.isnan(tensor.float()).sum())
    return summary


def run_reference_check(job: dict[str, Any]) -> dict[str, Any]:
    """Run the reference on each case twice: shapes, dtypes, finiteness, determinism."""
    import torch

    from tools.verification.inputs import Case, make_inputs

    definition = job["definition"]
    run = load_reference(definition["reference"], definition["name"])
    output_names = list(definition["outputs"])
    cases = []
    for case_data in job["cases"]:
        case = Case(**case_data)
        entry: dict[str, Any] = {"label": case.label}
        try:
            inputs = make_inputs(definition, case, device=job.get("device", "cpu"), seed=job.get("seed", 0))
            start = time.perf_counter()
            torch.manual_seed(job.get("seed", 0))
            first = as_outputs(run(*inputs), output_names)
            entry["seconds"] = round(time.perf_counter() - start, 4)
            torch.manual_seed(job.get("seed", 0))
            second = as_outputs(run(*make_inputs(definition, case, device=job.get("device", "cpu"), seed=job.get("seed", 0))), output_names)
            entry["outputs"] = [summarize(t) for t in first]
            entry["axes"] = var_axis_values(definition, inputs)
            entry["deterministic"] = all(_same_output(a, b) for a, b in zip(first, second))
            entry["count"] = len(first)
        except Exception as exc:  # reported to the parent, which decides
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["traceback"] = traceback.format_exc(limit=6)[-2000:]
        cases.append(entry)
    return {"cases": cases}


def _same_output(a: Any, b: Any) -> bool:
    """Whether two runs' outputs agree: exactly, or for floating point within one rounding
    step of their dtype. The CPU's vectorized and scalar math may round the same element
    differently from run to run (a vector loop's tail); a reference that draws random
    numbers differs far more."""
    import torch

    if not isinstance(a, torch.Tensor):
        return True
    if not isinstance(b, torch.Tensor) or a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):
        return True
    if not a.is_floating_point():
        return False
    info = torch.finfo(a.dtype)
    return torch.allclose(a.double(), b.double(), rtol=info.eps, atol=info.tiny, equal_nan=True)


def run_compare(job: dict[str, Any]) -> dict[str, Any]:
    from tools.verification.comparison_job import run_comparison

    if job.get("prepare_error"):
        raise RuntimeError(job["prepare_error"])
    return run_comparison(job)


def run_inputs(job: dict[str, Any]) -> dict[str, Any]:
    from tools.verification.dry_run import generate_case_inputs

    return generate_case_inputs(job)


JOB_KINDS = {"reference_check": run_reference_check, "compare": run_compare, "inputs": run_inputs}


def _emit(out, record: dict[str, Any]) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()


def _prepare_gpu(jobs: list[dict[str, Any]], device: str, out) -> None:
    """Warm up CUDA and build every binding the jobs use, recording failures on the jobs."""
    from tools.verification import gpu_prepare

    gpu_prepare.configure_cuda()
    gpu_prepare.warm_up_cuda(device)
    for job in jobs:
        if job["kind"] != "compare" or "binding" not in job.get("expected", {}):
            continue
        _emit(out, {"preparing": job["id"]})
        start = time.perf_counter()
        try:
            gpu_prepare.prepare_binding(job)
        except Exception as exc:
            job["prepare_error"] = f"{type(exc).__name__}: {exc}"
            job["prepare_traceback"] = traceback.format_exc(limit=8)[-3000:]
        job["prepare_seconds"] = round(time.perf_counter() - start, 3)
        _emit(out, {"prepared": job["id"], "seconds": job["prepare_seconds"], "error": job.get("prepare_error")})


def main(argv: list[str]) -> int:
    # The protocol owns stdout; anything else printing there (a reference's print(), a JIT
    # build log) goes to stderr, which the parent drains.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    _die_with_parent(spec.get("parent"))
    device = spec.get("device", "cpu")
    on_gpu = device.startswith("cuda")
    forbid_writes = bool(spec.get("forbid_writes", False))
    _limit_resources(int(spec.get("memory_bytes", 0)), forbid_writes and not on_gpu)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    import torch  # noqa: F401 - imported before the clock starts and before the hook

    import tools.verification.inputs  # noqa: F401

    if on_gpu:
        _prepare_gpu(spec["jobs"], device, out)
        if forbid_writes:
            # A write now fails with EFBIG instead of killing the worker: the CUDA driver
            # may try to cache compiled code, which must not take a comparison down.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    if forbid_writes:
        _forbid_side_effects()
    _emit(out, {"ready": True})
    for job in spec["jobs"]:
        start = time.perf_counter()
        try:
            result = JOB_KINDS[job["kind"]](job)
            result["ok"] = True
        except MemoryError:
            result = {"ok": False, "error": "MemoryError: the reference exceeded the memory cap"}
        except Exception as exc:
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": job.get("prepare_traceback") or traceback.format_exc(limit=6)[-2000:]}
        if job.get("prepare_error"):
            result["stage"] = "prepare"  # the FlashInfer side failed before any reference ran
        result["id"] = job["id"]
        result["seconds"] = round(time.perf_counter() - start, 3)
        if "prepare_seconds" in job:
            result["prepare_seconds"] = job["prepare_seconds"]
        _emit(out, result)
        if on_gpu and _cuda_unusable():
            # A device-side fault (an out-of-bounds index, say) poisons the CUDA context for
            # every later job: ask the parent for a fresh worker instead.
            _emit(out, {"restart": f"the CUDA context is unusable after {job['id']}"})
            return 0
    return 0


def _cuda_unusable() -> bool:
    import torch

    try:
        (torch.zeros(1, device="cuda") + 1).item()
        torch.cuda.synchronize()
    except Exception:
        return True
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv))
