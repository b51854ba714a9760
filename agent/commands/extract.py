"""`agent extract`: one model's kernel definitions, from SGLang source to the dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.commands.llm_options import add_llm_arguments, llm_client
from agent.commands.options import add_model_arguments, add_sglang_source_arguments, positive_float, stage_list
from agent.context import AgentContext
from agent.interruption import held
from agent.progress import Progress
from agent.report import build_report, render_table
from agent.state import ExtractionState, ExtractRequest
from tools.dedup_store import check_writable
from tools.errors import ExtractionError
from tools.verification.sandbox import SandboxLimits

HELP = """\
Find MODEL's implementation in SGLang, work out every GPU kernel serving it runs, and
write each as a FlashInfer-Trace Definition JSON under OUTPUT/definitions/{op_type}/.
The output dataset is the reference: a kernel it already defines under the planned name
is taken as the dataset has it, and its file only gains this model's model:/tp:/ep: tags
(no other byte changes). A name the dataset uses for another kernel is a conflict: it is
not written (exit status 4); the report says what differs and where the proposal is kept.

Kernels FlashInfer's trace templates cover are built without an LLM; the rest are
listed as pending (exit status 3) unless an LLM is configured (--llm-model): it drafts
each one, its reference is checked in a sandbox, and a failing draft is sent back with
the check's report, up to --llm-max-attempts drafts per kernel.

The run is checkpointed after every step in DIR/.agent/checkpoints.sqlite; after an
interruption, the same command with --resume continues where it stopped."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "extract",
        help="extract a model's kernel definitions",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(parser)
    parser.add_argument("--execution-modes", type=stage_list, default=["prefill", "decode"], metavar="MODES", help="prefill,decode (default both)")
    parser.add_argument("--include-quantized", action="store_true", help="also emit quantized kernel variants")
    parser.add_argument("--no-deduplicate", action="store_true", help="leave identical existing definitions untouched (do not add this model's tags)")
    parser.add_argument("--output", default="flashinfer_trace", metavar="DIR", help="dataset root; definitions go to DIR/definitions (default: ./flashinfer_trace)")
    parser.add_argument("--dry-run", action="store_true", help="plan and report, write nothing")
    parser.add_argument("--report", metavar="PATH", help="write the JSON report here (default: DIR/reports/)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--verify", choices=["auto", "cpu", "none"], default="auto", help="check references before committing (default: on the CPU)")
    parser.add_argument("--verify-timeout", type=positive_float, default=120.0, metavar="S", help="seconds one reference check may run before it counts as hanging (default 120)")
    add_sglang_source_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue this command's interrupted run from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_llm_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
    if args.resume and args.dry_run:
        raise ExtractionError("--resume continues a run that writes; a --dry-run run keeps no checkpoints.", hint="Drop --dry-run or --resume.")
    progress = Progress(quiet=args.quiet)
    context = AgentContext(
        progress=progress,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        sandbox=SandboxLimits(timeout_s=args.verify_timeout),
        llm=llm_client(args),
    )
    state = _run_graph(request, context, resume=args.resume)
    report = build_report(state, **context.llm_identity())
    if args.json:
        json.dump(report.model_dump(mode="json"), sys.stdout, indent=2)
        print()
    else:
        print(render_table(report))
        if state.report_path:
            print(f"report: {state.report_path}")
    return report.exit_status


def _run_graph(request: ExtractRequest, context: AgentContext, *, resume: bool) -> ExtractionState:
    from agent.checkpoint import RunCheckpoints
    from agent.graph import build_graph

    graph = build_graph()
    if request.dry_run:  # writes nothing, checkpoints included
        return ExtractionState.model_validate(graph.compile().invoke(ExtractionState(request=request), context=context))
    check_writable(Path(request.output_root))
    with RunCheckpoints(request.output_root) as checkpoints:
        compiled = graph.compile(checkpointer=checkpoints.saver)
        config = checkpoints.config(request)
        start: ExtractionState | None = ExtractionState(request=request)
        if resume:
            snapshot = compiled.get_state(config)
            if snapshot.next:
                context.progress.stage("resume", f"continuing at {', '.join(snapshot.next)} from {checkpoints.path}")
                start = None
            else:
                context.progress.warn(f"no interrupted run of this command in {checkpoints.path}; starting from the beginning")
        if start is not None:
            checkpoints.discard(request)
        try:
            final = compiled.invoke(start, config, context=context, durability="sync")
        except ExtractionError:
            checkpoints.discard(request)  # bad input: rerunning fails the same way
            checkpoints.abandon()
            raise
        with held():  # a finished run's checkpoints go whole: the database and its journal together
            checkpoints.finish(request)
    return ExtractionState.model_validate(final)
