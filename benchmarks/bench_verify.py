"""Time verification against FlashInfer, per definition and per model, cold (JIT build) and warm.

    python benchmarks/bench_verify.py --dataset build/gpu-dataset [NAME ...]
        [--measure-cold | --cold-from DIR/verification/<run>.json] [--json OUT.json]

Runs on a GPU machine. Each pass verifies the definitions in one sandboxed worker, as
`agent verify` does, and reads per definition the time to build (JIT) and first run its
FlashInfer binding (`prepare`) and the time of the comparison itself (`compare`). A
FlashInfer kernel family is built once per machine, so in a cold pass the first
definition of each family carries the build.

Cold numbers come from a pass with an empty FlashInfer JIT cache (`--measure-cold`: a
fresh FLASHINFER_WORKSPACE_BASE, every kernel compiled again) or from the report of an
earlier `agent verify` run on this machine (`--cold-from`), which avoids building twice.
Per model: the sums over the definitions tagged with the model (shared ones count for
each model). Nothing is written to the dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools import naming  # noqa: E402
from tools.dedup_store import DefinitionStore  # noqa: E402
from tools.verification.environment import probe_environment  # noqa: E402
from tools.verification.families import family_for  # noqa: E402
from tools.verification.run_log import VerificationRun  # noqa: E402
from tools.verification.selection import select_definitions  # noqa: E402
from tools.verification.verify import verify_against_flashinfer  # noqa: E402


def timed_pass(definitions: list[dict]) -> tuple[float, dict[str, dict]]:
    started = time.perf_counter()
    reports = verify_against_flashinfer(definitions)
    wall = time.perf_counter() - started
    return wall, {
        name: {"prepare": report.prepare_seconds, "compare": report.seconds, "passed": report.passed, "summary": report.summary}
        for name, report in reports.items()
    }


def cold_from_report(path: Path) -> tuple[float | None, dict[str, dict]]:
    run = VerificationRun.model_validate_json(path.read_text())
    return None, {
        r.name: {"prepare": r.prepare_seconds, "compare": r.seconds, "passed": r.passed, "summary": r.summary} for r in run.results
    }


def total(entry: dict | None) -> float | None:
    if not entry or entry.get("prepare") is None or entry.get("compare") is None:
        return None
    return entry["prepare"] + entry["compare"]


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="definitions to time (default: all in the dataset)")
    parser.add_argument("--dataset", default="build/gpu-dataset", help="dataset root")
    cold = parser.add_mutually_exclusive_group()
    cold.add_argument("--measure-cold", action="store_true", help="first verify with an empty FlashInfer JIT cache (compiles everything again)")
    cold.add_argument("--cold-from", type=Path, metavar="REPORT", help="cold numbers from an earlier `agent verify` report on this machine")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    args = parser.parse_args()

    environment = probe_environment()
    if environment.device != "gpu":
        print("bench_verify needs a CUDA GPU with FlashInfer", file=sys.stderr)
        return 2
    store = DefinitionStore(Path(args.dataset))
    definitions = select_definitions(store, names=args.names, select_all=not args.names)

    cold_wall, cold = None, {}
    if args.cold_from:
        cold_wall, cold = cold_from_report(args.cold_from)
    elif args.measure_cold:
        os.environ["FLASHINFER_WORKSPACE_BASE"] = tempfile.mkdtemp(prefix="fi-cold-jit-")
        cold_wall, cold = timed_pass(definitions)
    warm_wall, warm = timed_pass(definitions)

    rows = []
    print(f"verification timings on {environment.gpu_name} (flashinfer {environment.flashinfer}, torch {environment.torch}), seconds")
    print(f"{'definition':<46} {'family':<18} {'cold prep':>9} {'cold cmp':>9} {'warm prep':>9} {'warm cmp':>9}  verdict")
    for definition in definitions:
        name = definition["name"]
        c, w = cold.get(name, {}), warm[name]
        verdict = "verified" if w["passed"] else f"FAILED: {w['summary'][:60]}"
        rows.append({"name": name, "family": family_for(definition).name, "cold": c or None, "warm": w})
        print(f"{name:<46} {rows[-1]['family']:<18} {fmt(c.get('prepare')):>9} {fmt(c.get('compare')):>9} {fmt(w['prepare']):>9} {fmt(w['compare']):>9}  {verdict}")

    models = {}
    for definition in definitions:
        for tag in definition.get("tags", []):
            if tag.startswith(naming.MODEL_TAG_PREFIX):
                models.setdefault(tag[len(naming.MODEL_TAG_PREFIX) :], []).append(definition["name"])
    model_rows = []
    print(f"\n{'model':<20} {'definitions':>11} {'cold total':>11} {'warm total':>11}")
    for model, names in sorted(models.items()):
        cold_sum = sum(total(cold.get(n)) or 0.0 for n in names) if cold else None
        warm_sum = sum(total(warm[n]) or 0.0 for n in names)
        model_rows.append({"model": model, "definitions": names, "cold_seconds": cold_sum, "warm_seconds": warm_sum})
        print(f"{model:<20} {len(names):>11} {fmt(cold_sum):>11} {fmt(warm_sum):>11}")
    print(f"\nwall time of one pass over all {len(definitions)} definitions: cold {fmt(cold_wall)} s, warm {fmt(warm_wall)} s")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "environment": environment.model_dump(),
            "cold_source": str(args.cold_from) if args.cold_from else ("measured" if args.measure_cold else None),
            "cold_wall_seconds": cold_wall,
            "warm_wall_seconds": warm_wall,
            "definitions": rows,
            "models": model_rows,
        }
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(w["passed"] for w in warm.values()) else 3


if __name__ == "__main__":
    sys.exit(main())
