"""Subprocess that executes reference code: `python -m tools.verification.worker JOBS.json`.

Reference code is untrusted (an LLM may have written it), so it never runs in the
agent's process. This worker sets its own resource limits before touching any job
(address space, and no file writes when asked), runs each job and prints one JSON line
per job to stdout. The parent (`sandbox.py`) enforces the per-job timeout and restarts
the worker after a kill.
"""

from __future__ import annotations

import json
import linecache
import os
import resource
import sys
import time
import traceback
from typing import Any


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


def load_reference(source: str, name: str):
    namespace: dict[str, Any] = {"__name__": f"reference_{name}"}
    filename = f"<reference {name}>"
    # Registered so that tracebacks quote the failing line: the repair prompt shows them.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - isolated worker
    run = namespace.get("run")
    if not callable(run):
        raise RuntimeError("reference defines no callable run()")
    return run


def _as_outputs(result: Any, names: list[str]) -> list[Any]:
    if isinstance(result, dict):
        return [result.get(n) for n in names]
    if isinstance(result, (tuple, list)):
        return list(result)
    return [result]


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


def var_axis_values(definition: dict[str, Any], inputs: list[Any]) -> dict[str, int]:
    """Sizes of the definition's runtime axes, read off the generated inputs."""
    values: dict[str, int] = {}
    for (name, spec), value in zip(definition["inputs"].items(), inputs):
        if spec["shape"] is None or not hasattr(value, "shape"):
            continue
        for axis, size in zip(spec["shape"], value.shape):
            if definition["axes"][axis]["type"] == "var":
                values.setdefault(axis, int(size))
    return values


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
            first = _as_outputs(run(*inputs), output_names)
            entry["seconds"] = round(time.perf_counter() - start, 4)
            torch.manual_seed(job.get("seed", 0))
            second = _as_outputs(run(*make_inputs(definition, case, device=job.get("device", "cpu"), seed=job.get("seed", 0))), output_names)
            entry["outputs"] = [summarize(t) for t in first]
            entry["axes"] = var_axis_values(definition, inputs)
            entry["deterministic"] = all(
                (not isinstance(a, torch.Tensor)) or (isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b))
                for a, b in zip(first, second)
            )
            entry["count"] = len(first)
        except Exception as exc:  # reported to the parent, which decides
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["traceback"] = traceback.format_exc(limit=6)[-2000:]
        cases.append(entry)
    return {"cases": cases}


JOB_KINDS = {"reference_check": run_reference_check}


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    _limit_resources(int(spec.get("memory_bytes", 0)), bool(spec.get("forbid_writes", False)))
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    import torch  # noqa: F401 - imported before the clock starts and before the hook

    import tools.verification.inputs  # noqa: F401

    if spec.get("forbid_writes", False):
        _forbid_side_effects()
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for job in spec["jobs"]:
        start = time.perf_counter()
        try:
            result = JOB_KINDS[job["kind"]](job)
            result["ok"] = True
        except MemoryError:
            result = {"ok": False, "error": "MemoryError: the reference exceeded the memory cap"}
        except Exception as exc:
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=6)[-2000:]}
        result["id"] = job["id"]
        result["seconds"] = round(time.perf_counter() - start, 3)
        out.write(json.dumps(result) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
