"""Times `agent batch --catalog --publish none --verify none`: the whole catalog, extraction only.

    python benchmarks/bench_batch.py                        # --jobs 2, a copy of the real dataset if present
    python benchmarks/bench_batch.py --jobs 1 --dataset DIR # another pool size or dataset
    python benchmarks/bench_batch.py --cold                 # empty the parsed-source cache first

Runs the real command in a fresh process, in a temporary copy of the dataset (the copy is
deleted afterwards), and prints the wall time, the CPU time of the process tree (user +
system), the load average before and after (the machine is shared: wall time depends on
it) and the per-model times from the summary. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_DATASET = Path("/work/ref/flashinfer_trace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dataset", type=Path, default=REAL_DATASET if REAL_DATASET.is_dir() else None,
                        help="copied before the run (default: the reference dataset if present, else an empty one)")
    parser.add_argument("--cold", action="store_true", help="empty the parsed-source cache first")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from tools.model_parser.parse_cache import default_parse_cache_dir

    if args.cold:
        shutil.rmtree(default_parse_cache_dir(), ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        dataset = Path(tmp) / "dataset"
        if args.dataset:
            shutil.copytree(args.dataset / "definitions", dataset / "definitions")
        else:
            (dataset / "definitions").mkdir(parents=True)
        command = [sys.executable, "-m", "agent.cli", "batch", "--catalog", "--dataset", str(dataset), "--publish", "none",
                   "--verify", "none", "--jobs", str(args.jobs), "--json", "--quiet"]
        load_before = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = os.getloadavg()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    models = summary.get("models", [])
    figures = {
        "command": " ".join(command[1:]),
        "exit_status": result.returncode,
        "jobs": args.jobs,
        "cold_cache": args.cold,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "models": len(models),
        "models_failed": [m["slug"] for m in models if m.get("error")],
        "model_seconds": {m["slug"]: m["seconds"] for m in models},
    }
    print(f"agent batch --catalog --publish none --verify none --jobs {args.jobs}: {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({len(models)} models, exit {result.returncode}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, {os.cpu_count()} CPUs)")
    slowest = sorted(figures["model_seconds"].items(), key=lambda kv: -kv[1])[:5]
    print("slowest models: " + ", ".join(f"{slug} {s:.1f}s" for slug, s in slowest))
    if figures["models_failed"]:
        print("failed: " + ", ".join(figures["models_failed"]))
    if result.returncode not in (0, 3, 4):
        print(result.stderr[-3000:], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
