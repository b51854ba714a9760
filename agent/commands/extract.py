"""`agent extract`: one model's kernel definitions, from SGLang source to the dataset."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from agent.commands.options import int_list, non_negative_int, positive_float, positive_int, stage_list
from agent.context import AgentContext
from agent.progress import Progress
from agent.report import build_report, render_table
from agent.state import ExtractionState, ExtractRequest
from tools.dedup_store import check_writable
from tools.errors import ExtractionError
from tools.verification.sandbox import SandboxLimits

HELP = """\
Find MODEL's implementation in SGLang, work out every GPU kernel serving it runs, and
write each as a FlashInfer-Trace Definition JSON under OUTPUT/definitions/{op_type}/.
Definitions that already exist are not rewritten: identical ones gain the model's tag,
conflicting ones are written under a versioned name and flagged.

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
    parser.add_argument("--verify-timeout", type=positive_float, default=120.0, metavar="S", help="seconds one reference check may run before it counts as hanging (default 120)")
    source = parser.add_argument_group("SGLang sources")
    source.add_argument("--sglang-path", metavar="DIR", help="a SGLang checkout or unpacked wheel (default: installed sglang, else download)")
    source.add_argument("--sglang-version", metavar="V", help="SGLang release to download (default: the tested one; `latest` for the newest)")
    source.add_argument("--offline", action="store_true", help="never download SGLang; use the cache or --sglang-path")
    parser.add_argument("--cache-dir", metavar="DIR", help="where downloaded SGLang sources are kept")
    parser.add_argument("--resume", action="store_true", help="continue this command's interrupted run from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    llm = parser.add_argument_group("LLM drafting (any OpenAI-compatible endpoint; key from OPENAI_API_KEY)")
    llm.add_argument("--llm-model", metavar="NAME", help="model to draft kernels no template covers (enables drafting)")
    llm.add_argument("--llm-base-url", metavar="URL", help="endpoint, e.g. http://localhost:8000/v1 for vLLM/SGLang, http://localhost:11434/v1 for Ollama (default: OpenAI)")
    llm.add_argument("--llm-max-attempts", type=positive_int, default=3, metavar="N", help="drafts per kernel, the first and its repairs (default 3)")
    llm.add_argument("--llm-timeout", type=positive_float, default=300.0, metavar="S", help="seconds per request (default 300)")
    llm.add_argument("--llm-retries", type=non_negative_int, default=3, metavar="N", help="retries of a request that failed to connect, timed out or got 429/5xx, with backoff (default 3)")
    llm.add_argument("--llm-temperature", type=float, metavar="T", help="sampling temperature (default: the endpoint's)")
    llm.add_argument("--llm-price-input", type=float, metavar="USD", help="price per million prompt tokens, for cost accounting")
    llm.add_argument("--llm-price-output", type=float, metavar="USD", help="price per million completion tokens")
    llm.add_argument("--llm-token-budget", type=positive_int, metavar="N", help="stop drafting after this many tokens in the run")
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
        llm=_llm_client(args),
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
        checkpoints.finish(request)
    return ExtractionState.model_validate(final)


def _llm_client(args: argparse.Namespace):
    """The LLM client when --llm-model is given; None otherwise (no openai import)."""
    if not args.llm_model:
        if args.llm_base_url:
            raise ExtractionError("--llm-base-url needs --llm-model: which model should draft?", hint="Add --llm-model NAME (as the endpoint lists it under /v1/models).")
        return None
    from agent.llm import LLMClient, LLMSettings

    key = os.environ.get("OPENAI_API_KEY")
    if not key and not args.llm_base_url:
        raise ExtractionError("OPENAI_API_KEY is not set, and no --llm-base-url names another endpoint.", hint="Export OPENAI_API_KEY, or point --llm-base-url at a local server.")
    settings = LLMSettings(
        model=args.llm_model,
        base_url=args.llm_base_url,
        api_key=key,
        timeout_s=args.llm_timeout,
        max_retries=args.llm_retries,
        max_attempts=args.llm_max_attempts,
        temperature=args.llm_temperature,
        price_per_mtok_input=args.llm_price_input,
        price_per_mtok_output=args.llm_price_output,
        token_budget=args.llm_token_budget,
    )
    return LLMClient(settings)
