"""Times extraction: per catalog model, and parse + plan for every model file SGLang ships.

    python benchmarks/bench_extract.py                 # both parts, table on stdout
    python benchmarks/bench_extract.py --json out.json # also the raw figures
    python benchmarks/bench_extract.py --models llama-3.1-8b deepseek-v3 --repeat 5

Part 1 runs the real pipeline stages in-process for each model and profile (resolve,
parse, plan, build definitions) and reports the median over --repeat runs, with the
first (cold: libcst parsing of the SGLang files) run reported separately. Part 2 parses
every `sglang/srt/models/*.py` with libcst and, for each architecture its EntryClass
declares, interprets the model with a generic dense config and plans kernels: how long
that takes and how many models the parser builds at all without a model-specific config.
A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.definition_builder.builder import BuildContext, build_definition, has_template  # noqa: E402
from tools.kernel_planner import PlanOptions, plan_kernels  # noqa: E402
from tools.model_parser.inventory import parse_model  # noqa: E402
from tools.model_parser.runtime import ParallelProfile  # noqa: E402
from tools.model_parser.source_index import SourceIndex  # noqa: E402
from tools.model_registry.catalog import Catalog, load_config_file  # noqa: E402
from tools.model_registry.resolver import ModelResolver, scan_entry_classes  # noqa: E402
from tools.source_locator import locate_sglang  # noqa: E402

GENERIC_CONFIG = Path(__file__).resolve().parents[1] / "tools" / "model_registry" / "configs" / "llama-3.1-8b.json"


def time_model(source, slug: str, repeat: int) -> dict:
    runs, kernels, pending = [], 0, 0
    index = SourceIndex(source)  # fresh: the first run pays for parsing, later runs reuse it
    for _ in range(repeat + 1):
        started = time.perf_counter()
        model = ModelResolver(source).resolve(slug)
        names = set()
        for tp in model.profile.tp:
            for ep in model.profile.ep:
                if tp % ep:
                    continue
                inventory = parse_model(index, model.model_class.module, model.model_class.architecture, model.config, ParallelProfile(tp=tp, ep=ep))
                plan = plan_kernels(inventory, PlanOptions(page_sizes=model.profile.page_sizes))
                context = BuildContext(model_slug=model.slug)
                names |= {build_definition(s, context)["name"] for s in plan.specs if has_template(s.family)}
                pending = len(plan.pending)
        runs.append(time.perf_counter() - started)
        kernels = len(names)
    return {"model": slug, "cold_s": runs[0], "warm_median_s": statistics.median(runs[1:]) if repeat else None, "definitions": kernels, "pending": pending}


def time_cli(slug: str) -> dict:
    """`agent extract` end to end in a fresh process (import, parse, build, CPU checks, write)."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "agent.cli", "extract", "--model-name", slug, "--output", out, "--quiet", "--json"],
            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
        )
        elapsed = time.perf_counter() - started
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    written = sum(1 for e in report.get("entries", []) if e["outcome"] == "new")
    return {"model": slug, "seconds": elapsed, "exit_status": result.returncode, "written": written}


def time_all_files(source) -> dict:
    generic = load_config_file(GENERIC_CONFIG)
    index = SourceIndex(source)
    parse_times, interpret_times = [], []
    built, failed = 0, []
    classes = scan_entry_classes(source)
    for path in sorted(source.models_dir.glob("*.py")):
        started = time.perf_counter()
        index.module_for_file(path)
        parse_times.append(time.perf_counter() - started)
    for entry in classes:
        config = dict(generic, architectures=[entry.architecture])
        started = time.perf_counter()
        try:
            inventory = parse_model(index, entry.module, entry.architecture, config, ParallelProfile())
            plan_kernels(inventory)
            if inventory.components:
                built += 1
        except Exception as exc:  # a benchmark reports failures instead of stopping
            failed.append(f"{entry.file}:{entry.architecture}: {type(exc).__name__}: {str(exc)[:80]}")
        interpret_times.append(time.perf_counter() - started)
    return {
        "files": len(parse_times),
        "parse_total_s": sum(parse_times),
        "parse_median_s": statistics.median(parse_times),
        "parse_max_s": max(parse_times),
        "architectures": len(classes),
        "interpret_plan_total_s": sum(interpret_times),
        "interpret_plan_median_s": statistics.median(interpret_times),
        "interpret_plan_max_s": max(interpret_times),
        "built_with_generic_config": built,
        "failed": failed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", help="catalog slugs (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per model (default 3)")
    parser.add_argument("--skip-files", action="store_true", help="skip the every-model-file part")
    parser.add_argument("--end-to-end", action="store_true", help="also time `agent extract` in a fresh process per model")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = parser.parse_args()

    source = locate_sglang()
    print(f"SGLang {source.version} at {source.root}")
    slugs = args.models or [m.slug for m in Catalog.load().models]
    per_model = []
    print(f"\n{'model':<28} {'cold s':>8} {'warm s':>8} {'defs':>5} {'pending':>8}")
    for slug in slugs:
        try:
            row = time_model(source, slug, args.repeat)
        except Exception as exc:
            print(f"{slug:<28} failed: {type(exc).__name__}: {str(exc)[:60]}")
            continue
        per_model.append(row)
        warm = f"{row['warm_median_s']:8.2f}" if row["warm_median_s"] is not None else "       -"
        print(f"{slug:<28} {row['cold_s']:8.2f} {warm} {row['definitions']:5d} {row['pending']:8d}")
    result = {"sglang_version": source.version, "per_model": per_model}
    if args.end_to_end:
        print(f"\n{'agent extract (fresh process)':<34} {'s':>7} {'exit':>5} {'written':>8}")
        result["end_to_end"] = []
        for slug in slugs:
            row = time_cli(slug)
            result["end_to_end"].append(row)
            print(f"{slug:<34} {row['seconds']:7.1f} {row['exit_status']:5d} {row['written']:8d}")
    if not args.skip_files:
        files = time_all_files(source)
        result["all_files"] = files
        print(
            f"\nevery model file: {files['files']} files parsed in {files['parse_total_s']:.1f} s "
            f"(median {files['parse_median_s'] * 1000:.0f} ms, max {files['parse_max_s']:.2f} s); "
            f"{files['architectures']} architectures interpreted + planned in {files['interpret_plan_total_s']:.1f} s "
            f"(median {files['interpret_plan_median_s'] * 1000:.0f} ms, max {files['interpret_plan_max_s']:.2f} s); "
            f"{files['built_with_generic_config']} built components with a generic dense config, {len(files['failed'])} raised"
        )
        for line in files["failed"][:10]:
            print("  ", line)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
