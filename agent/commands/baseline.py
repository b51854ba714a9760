"""`agent baseline`: document SGLang's baseline implementation of a model's kernels."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agent import exit_codes
from agent.commands.options import add_model_arguments, add_sglang_source_arguments
from agent.progress import Progress
from tools.baseline.analysis import IMPLEMENTATION_FILE, KERNEL_CALLS_FILE, SNIPPETS_DIR, analyse_baseline, profile_inventories, write_baseline
from tools.baseline.schema import KernelCall
from tools.model_parser.source_index import SourceIndex
from tools.model_registry.resolver import ModelResolver
from tools.source_locator import locate_sglang

HELP = f"""\
Find MODEL's implementation in SGLang (as `agent extract` does) and document how SGLang
runs each of its kernels: the layer class, the attention / MoE / norm backend entry point
and the call into the kernel, each cited as file:line of the SGLang sources read, with
the FlashInfer-Trace definition name `agent extract` writes for that kernel.

Writes OUTPUT/<model>/{IMPLEMENTATION_FILE} (the forward-pass structure and the layer
constructor calls with their arguments), OUTPUT/<model>/{KERNEL_CALLS_FILE} (a list, one
entry per kernel) and OUTPUT/<model>/{SNIPPETS_DIR}/ (the quoted source, one file per
component). Both files carry the fields flashinfer-bench documents for them
(find-sglang-baseline skill), with everything else under additional keys."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "baseline",
        help="document SGLang's baseline implementation of a model's kernels",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(parser)
    parser.add_argument("--output-dir", default="model_analysis", metavar="DIR", help="where to write DIR/<model>/ (default: ./model_analysis)")
    add_sglang_source_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    progress = Progress(quiet=args.quiet)
    started = time.monotonic()
    source = locate_sglang(
        Path(args.sglang_path) if args.sglang_path else None,
        version=args.sglang_version,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        allow_download=not args.offline,
    )
    progress.stage("locate", f"SGLang {source.version} ({source.origin}) at {source.root}")
    model = ModelResolver(source).resolve(args.model_name, config_path=Path(args.config) if args.config else None)
    overrides = {k: v for k, v in (("tp", args.tp), ("ep", args.ep), ("page_sizes", args.page_sizes)) if v}
    model = model.model_copy(update={"profile": model.profile.model_copy(update=overrides)})
    progress.stage("resolve", f"{model.display_name} -> {model.model_class.file}:{model.architecture}; chosen by {model.chosen_because}")
    index = SourceIndex(source)
    inventories = profile_inventories(index, model)
    progress.stage("parse", ", ".join(f"tp={i.tp} ep={i.ep}: {len(i.components)} components" for i in inventories))
    analysis = analyse_baseline(model, index, inventories)
    target = write_baseline(analysis, Path(args.output_dir))
    print(_summary(analysis.kernel_calls))
    print(f"wrote {target}/{{{IMPLEMENTATION_FILE}, {KERNEL_CALLS_FILE}, {SNIPPETS_DIR}/}} ({len(analysis.snippets)} snippets) in {time.monotonic() - started:.1f}s")
    return exit_codes.SUCCESS


def _summary(calls: list[KernelCall]) -> str:
    """One line per distinct (component, route, definition): where SGLang runs it, what it is."""
    rows, seen = [], set()
    for call in calls:
        route = call.baseline.name if call.baseline else "-"
        name = call.flashinfer_equivalent or f"({call.equivalent_status})"
        key = (call.module, route, name)
        if key in seen:
            continue
        seen.add(key)
        if call.baseline is None:
            where = call.baseline_note or ""
        else:
            missing = next((p.note for p in call.baseline.entry_points if not p.found), None)
            where = call.kernel_location or f"not found: {missing}"
        rows.append((call.module, route, name, where))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows)
