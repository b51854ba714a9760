"""`agent eval`: extraction accuracy against the ground truth in evals/, tracked over time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

from agent import exit_codes
from agent.commands.llm_options import add_llm_arguments, llm_client
from agent.commands.options import add_sglang_source_arguments
from agent.interruption import held
from agent.state import ExtractRequest
from evals.truth import FAMILIES, HOLDOUT_DIR, GroundTruth

HELP = """\
Run the extraction for every model with ground truth (or those named) and score it:
definition-name precision and recall, signatures against the official flashinfer-bench
definitions (every expected name the dataset has; documented departures counted apart),
CPU reference checks, LLM attempts and tokens per
kernel, and wall time. With --llm-model the pending kernels are drafted by that LLM
(the same options as `agent extract`), so the run also scores the LLM path.

Prints a table; appends the run to OUT/history.jsonl with the git commit, and writes
OUT/report.md and OUT/history.png.

--holdout scores the holdout instead (evals/holdout/: models outside the catalog, each
extracted from its public config.json), reported apart with precision as its headline:
any definition a model does not run counts against it. Its history and report go to
evals/holdout/ unless --out says otherwise.


Then, for the catalog (not the holdout), the merge: the same models, in catalog order,
extracted into a temporary dataset holding the official definitions (rebuilt from
evals/ground_truth/signatures.json), counting duplicates, official files changed beyond
added tags, and conflicts. --no-merge skips it.

Nothing is written to any real dataset: every extraction goes to a temporary one."""

VERIFY_MODES = get_args(ExtractRequest.model_fields["verify"].annotation)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="score extraction against the ground truth", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=_names, metavar="M[,M]", help="models to evaluate (slugs or aliases; default: all with ground truth)")
    parser.add_argument("--families", type=_names, metavar="F[,F]", help=f"only these families: {', '.join(FAMILIES)}")
    parser.add_argument("--verify", choices=VERIFY_MODES, default="auto", help="reference checks, as for `agent extract` (default: auto)")
    parser.add_argument(
        "--no-merge",
        action="store_true",
        help="skip the second pass that extracts the models, in catalog order, into the official definitions and counts duplicates and changed files",
    )
    parser.add_argument("--explain", action="store_true", help="print every mismatch: missing, extra, signature differences, failed checks, pending")
    parser.add_argument("--holdout", action="store_true", help="score the holdout (models outside the catalog, evals/holdout/) instead of the catalog")
    parser.add_argument("--out", metavar="DIR", help="where history.jsonl, report.md and history.png go (default: ./evals, ./evals/holdout with --holdout)")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to the history or rewrite the report")
    parser.add_argument("--json", action="store_true", help="print the run as JSON instead of a table")
    add_sglang_source_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_llm_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the runner needs LangGraph and the report matplotlib, which a GPU
    # machine that only runs `agent verify` does not have.
    from evals.history import EvalRecord, append_record, git_state, load_records
    from evals.report import comparable, explain, render_chart, render_markdown, render_table
    from evals.runner import EvalOptions, make_context, run_merge, run_models
    from evals.scoring import ModelRun, score_model, summarize

    truth = GroundTruth.load(HOLDOUT_DIR) if args.holdout else GroundTruth.load()
    selected = truth.select(args.models, args.families)
    options = EvalOptions(
        verify=args.verify,
        sglang_path=args.sglang_path,
        sglang_version=args.sglang_version,
        allow_download=not args.offline,
        cache_dir=args.cache_dir,
    )
    context = make_context(options, llm=llm_client(args))
    out = Path(args.out or ("evals/holdout" if args.holdout else "evals"))
    paths = {"history": out / "history.jsonl", "report": out / "report.md", "chart": out / "history.png"}
    history = [] if args.no_record else load_records(paths["history"])  # a broken history fails before the long run

    def progress(index: int, model_run: ModelRun) -> None:
        if args.quiet:
            return
        outcome = model_run.error or f"{len(model_run.definitions)} definitions, {len(model_run.pending)} pending"
        print(f"[eval {index}/{len(selected)}] {model_run.model}: {outcome} ({model_run.seconds:.1f}s)", file=sys.stderr, flush=True)

    runs = run_models(selected, options, context, on_result=progress)
    scores = [score_model(t, truth.signatures, r) for t, r in zip(selected, runs)]
    merge = None
    if not args.no_merge and not args.holdout:
        if not args.quiet:
            print(f"[eval] merging the {len(selected)} models into the official definitions (catalog order)", file=sys.stderr, flush=True)
        # Without the LLM: the merge scores the store, and drafting again would cost tokens twice.
        merge = run_merge(selected, truth.signatures, options, make_context(options))
    record = EvalRecord(
        merge=merge,
        git=git_state(ignore=list(paths.values())),
        sglang_version=next((r.sglang_version for r in runs if r.sglang_version), None),
        options={"verify": args.verify, "llm": args.llm_model},
        set="holdout" if args.holdout else "catalog",
        totals=summarize(scores),
        scores=scores,
    )
    if args.json:
        print(record.model_dump_json(indent=2))
    else:
        print(render_table(record))
        if args.explain:
            print()
            print("\n\n".join("\n".join(explain(s)) for s in scores))
    if not args.no_record:
        with held():  # the history, its report and its chart go together: a Ctrl-C waits for them
            out.mkdir(parents=True, exist_ok=True)
            history.append(record)
            trend = comparable(history, record)
            render_chart(trend, paths["chart"])
            paths["report"].write_text(render_markdown(record, trend, paths["chart"].name), encoding="utf-8")
            append_record(paths["history"], record)
        if not args.json:
            print(f"\nrecorded: {paths['history']} ({len(history)} runs), {paths['report']}, {paths['chart']}")
    return exit_codes.SUCCESS
