"""Build, in parallel, every FlashInfer JIT module a dataset's verification needs, and time each build.

FlashInfer compiles a kernel module on its first use (the H200 and H100 runs: the FP8
block-scale GEMM 148 s, routing 28 s, MLA 27 s, segment GEMM 46 s, paged prefill 67 s, MLA
ragged 62 s, sampling 85 s, RMSNorm 39 s, top-k over 200 s). `agent verify` builds them one
after another inside its workers; run this first, in the background, and the builds
overlap each other and the comparisons: FlashInfer serialises two processes wanting the
same module with a file lock, so nothing is built twice.

One subprocess per group of definitions that need the same modules (binding and head
dims): it makes the first verification case's inputs and runs the binding once on the GPU.
Slowest builds start first. Each has a time limit; one that is not done by then is
reported (the verification of its definitions then says why they are unverifiable).

    python benchmarks/prebuild_jit.py --dataset build/gpu-dataset [--limit 420] [--parallel 8] [--jobs 4] [--out DIR]
    python benchmarks/prebuild_jit.py --dataset DIR --dry-run     # CPU: the groups, nothing built

Writes one JSON line per group to stdout and to DIR/prebuild.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Constant axes that select a different compiled module (head dims, state dims), as
# opposed to sizes a module takes at run time (head counts, hidden sizes, vocab).
_MODULE_AXES = ("head_dim", "head_size", "head_dim_ckv", "head_dim_kpe", "qk_dim", "vo_dim", "dstate", "index_head_dim")


def groups(definitions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One definition per (binding, module-selecting axes, dtypes): the group's smallest."""
    from tools.verification.bindings.lookup import resolve

    chosen: dict[str, dict[str, Any]] = {}
    for definition in sorted(definitions, key=lambda d: (_size(d), d["name"])):  # the smallest of each group builds it
        binding = resolve(definition).binding
        if binding is None or binding.requires:  # the CuTe DSL kernels compile per shape, in the verification itself
            continue
        axes = {a: definition["axes"][a].get("value") for a in _MODULE_AXES if a in definition["axes"]}
        dtypes = sorted({spec["dtype"] for spec in definition["inputs"].values()})
        key = json.dumps([binding.name, axes, dtypes])
        chosen.setdefault(key, {"binding": binding.name, "build_seconds": binding.build_seconds, "definition": definition})
    return chosen


def _size(definition: dict[str, Any]) -> int:
    """Elements of the inputs, runtime axes counted as 1."""
    total = 0
    for spec in definition["inputs"].values():
        count = 1
        for axis in spec["shape"] or []:
            count *= definition["axes"][axis].get("value", 1) or 1
        total += count
    return total


def build_one(definition_path: str) -> int:
    """Child: run the definition's binding once on its first verification case."""
    import torch

    from tools.verification.bindings.lookup import resolve
    from tools.verification.inputs import default_cases, make_inputs

    definition = json.loads(Path(definition_path).read_text())
    run = resolve(definition).binding.load()
    inputs = make_inputs(definition, default_cases(definition, "verify")[0], device="cuda")
    with torch.no_grad():
        run(*inputs)
    torch.cuda.synchronize()
    return 0


def launch(group: dict[str, Any], limit: float, jobs: int, workdir: Path) -> dict[str, Any]:
    path = workdir / f"{group['definition']['name']}.json"
    path.write_text(json.dumps(group["definition"]))
    env = dict(os.environ, MAX_JOBS=str(jobs), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        timed_out = True
    record = {
        "binding": group["binding"],
        "definition": group["definition"]["name"],
        "expected_s": group["build_seconds"],
        "seconds": round(time.perf_counter() - start, 1),
        "ok": proc.returncode == 0 and not timed_out,
    }
    if timed_out:
        record["error"] = f"not built within {limit:.0f} s"
    elif proc.returncode != 0:
        record["error"] = output.strip().splitlines()[-1] if output.strip() else f"exit {proc.returncode}"
        record["output_tail"] = output[-2000:]
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", help="dataset root (definitions/ inside)")
    parser.add_argument("--limit", type=float, default=420.0, help="seconds allowed per group")
    parser.add_argument("--parallel", type=int, default=8, help="groups building at once")
    parser.add_argument("--jobs", type=int, default=4, help="ninja jobs per build (MAX_JOBS)")
    parser.add_argument("--out", default=os.environ.get("OUT", "build/prebuild"))
    parser.add_argument("--dry-run", action="store_true", help="list the groups; build nothing")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return build_one(args.child)
    definitions = [json.loads(p.read_text()) for p in sorted(Path(args.dataset, "definitions").glob("*/*.json"))]
    chosen = sorted(groups(definitions).values(), key=lambda g: -g["build_seconds"])
    if args.dry_run:
        for group in chosen:
            print(json.dumps({"binding": group["binding"], "definition": group["definition"]["name"], "expected_s": group["build_seconds"]}))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workdir = out / "prebuild-definitions"
    workdir.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.parallel) as pool, open(out / "prebuild.jsonl", "a") as log:
        for record in pool.map(lambda g: launch(g, args.limit, args.jobs, workdir), chosen):
            line = json.dumps(record)
            print(line, flush=True)
            log.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
