"""`agent extract`: one model's kernel definitions, from SGLang source to the dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.commands.options import int_list, stage_list
from agent.context import AgentContext
from agent.progress import Progress
from agent.report import build_report, render_table
from agent.state import ExtractionState, ExtractRequest

HELP = """\
Find MODEL's implementation in SGLang, work out every GPU kernel serving it runs, and
write each as a FlashInfer-Trace Definition JSON under OUTPUT/definitions/{op_type}/.
Definitions that already exist are not rewritten: identical ones gain the model's tag,
conflicting ones are written under a versioned name and flagged.

Kernels FlashInfer's trace templates cover are built without an LLM; the rest are
listed as pending (exit status 3) unless an LLM endpoint is configured."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "extract",
        help="extract a model's kernel definitions",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-name", required=True, metavar="NAME", help="model name, alias or HF repo id (e.g. llama, kimi, Qwen/Qwen3-8B); see `agent models`")
    parser.add_argument("--config", metavar="PATH", help="the model's HF config.json (required for models not in the catalog)")
    parser.add_argument("--tp", type=int_list, metavar="N[,N]", help="tensor-parallel size(s); default: the model's serving profile")
    parser.add_argument("--ep", type=int_list, metavar="N[,N]", help="expert-parallel size(s) for MoE models")
    parser.add_argument("--page-sizes", type=int_list, metavar="N[,N]", help="KV-cache page sizes (default 1,64)")
    parser.add_argument("--execution-modes", type=stage_list, default=["prefill", "decode"], metavar="MODES", help="prefill,decode (default both)")
    parser.add_argument("--include-quantized", action="store_true", help="also emit quantized kernel variants")
    parser.add_argument("--no-deduplicate", action="store_true", help="leave identical existing definitions untouched (do not add this model's tags)")
    parser.add_argument("--output", default="flashinfer_trace", metavar="DIR", help="dataset root; definitions go to DIR/definitions (default: ./flashinfer_trace)")
    parser.add_argument("--dry-run", action="store_true", help="plan and report, write nothing")
    parser.add_argument("--report", metavar="PATH", help="write the JSON report here (default: DIR/reports/)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--verify", choices=["auto", "cpu", "none"], default="auto", help="check references before committing (default: on the CPU)")
    source = parser.add_argument_group("SGLang sources")
    source.add_argument("--sglang-path", metavar="DIR", help="a SGLang checkout or unpacked wheel (default: installed sglang, else download)")
    source.add_argument("--sglang-version", metavar="V", help="SGLang release to download (default: the tested one; `latest` for the newest)")
    source.add_argument("--offline", action="store_true", help="never download SGLang; use the cache or --sglang-path")
    parser.add_argument("--cache-dir", metavar="DIR", help="where downloaded SGLang sources are kept")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from agent.graph import build_graph

    request = ExtractRequest(
        model_name=args.model_name,
        config_path=args.config,
        tp=args.tp,
        ep=args.ep,
        page_sizes=args.page_sizes,
        stages=args.execution_modes,
        include_quantized=args.include_quantized,
        deduplicate=not args.no_deduplicate,
        output_root=args.output,
        dry_run=args.dry_run,
        report_path=args.report,
        sglang_path=args.sglang_path,
        sglang_version=args.sglang_version,
        allow_download=not args.offline,
        verify=args.verify,
    )
    context = AgentContext(progress=Progress(quiet=args.quiet), cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    graph = build_graph().compile()
    final = graph.invoke(ExtractionState(request=request), context=context)
    state = ExtractionState.model_validate(final)
    report = build_report(state)
    if args.json:
        json.dump(report.model_dump(mode="json"), sys.stdout, indent=2)
        print()
    else:
        print(render_table(report))
        if state.report_path:
            print(f"report: {state.report_path}")
    return report.exit_status
