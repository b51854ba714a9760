"""`agent verify`: compare stored definitions' references against FlashInfer; gate `status:verified`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from agent import exit_codes
from agent.interruption import held
from agent.progress import Progress
from tools.dedup_store import DefinitionStore, check_writable
from tools.errors import ExtractionError
from tools.verification.environment import probe_environment
from tools.verification.gate import run_verification
from tools.verification.report import Comparison
from tools.verification.run_log import VerificationRun, write_run
from tools.verification.sandbox import GPU_LIMITS, SandboxLimits
from tools.verification.selection import select_definitions
from tools.verification.verify import verify_against_flashinfer

HELP = """\
Run each selected definition's reference and the FlashInfer kernel it stands for on the
same inputs (edge cases and large batches included), on a GPU, and compare them as
flashinfer-bench would. Definitions that agree become status:verified and get a
baseline solution under DIR/solutions/baseline/; the others stay status:unverified.

Without a CUDA GPU only the CPU checks run (the reference runs and returns finite,
deterministic outputs of the declared shapes and dtypes) and no status is written.
Every run is logged under DIR/verification/ (versions, GPU, per-definition results)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "verify",
        help="verify definitions against FlashInfer on a GPU (status:verified)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 all passed, 3 some failed, 2 bad input (unknown names, empty dataset), 1 internal error.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="definition names to verify")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model-name", metavar="M", help="verify every definition tagged with this model")
    which.add_argument("--all", action="store_true", help="verify every definition in the dataset")
    parser.add_argument("--output", default="flashinfer_trace", metavar="DIR", help="dataset root (default: ./flashinfer_trace)")
    parser.add_argument("--cpu", action="store_true", help="run the CPU checks only, even where a GPU is available")
    parser.add_argument("--timeout", type=float, default=GPU_LIMITS.timeout_s, metavar="S", help="seconds allowed per definition")
    parser.add_argument("--json", action="store_true", help="print the run's report as JSON instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.names and (args.model_name or args.all):
        raise ExtractionError("Name definitions, or pass --model-name or --all, not both.")
    root = Path(args.output)
    store = DefinitionStore(root)
    definitions = select_definitions(store, names=args.names, model=args.model_name, select_all=args.all)
    check_writable(root)
    progress = Progress(quiet=args.quiet)
    environment = probe_environment(use_gpu=not args.cpu)
    if environment.device == "gpu":
        progress.stage("verify", f"{len(definitions)} definitions against FlashInfer {environment.flashinfer} on {environment.gpu_name}")
        limits = GPU_LIMITS.model_copy(update={"timeout_s": args.timeout})
    else:
        reason = "--cpu given" if args.cpu else "no CUDA GPU with FlashInfer on this machine"
        progress.stage("verify", f"{reason}: running the CPU checks only for {len(definitions)} definitions; no status is written")
        limits = SandboxLimits()
    selection = {"names": args.names, "model": args.model_name, "all": args.all}
    stage = "compare" if environment.device == "gpu" else "check"
    listener = _progress_listener(progress, stage)
    with contextlib.ExitStack() as writing:

        def compare(chosen: list[dict[str, Any]]) -> dict[str, Comparison]:
            comparisons = verify_against_flashinfer(chosen, limits=limits, on_event=listener)
            # What follows writes the statuses, baseline solutions and the run's log: a
            # Ctrl-C from here on waits for them, so that none is left without the others.
            writing.enter_context(held())
            return comparisons

        outcome = run_verification(store, definitions, environment, selection=selection, limits=limits, on_event=listener, compare=compare)
        writing.enter_context(held())  # the run's report and its line in the log
        log_path = write_run(root, outcome)
    if args.json:
        json.dump(outcome.model_dump(mode="json"), sys.stdout, indent=2)
        print()
    else:
        print(render_table(outcome))
        print(f"log: {log_path}")
    return exit_codes.SUCCESS if outcome.all_passed else exit_codes.INCOMPLETE


def _progress_listener(progress: Progress, stage: str):
    def listen(event: dict[str, Any]) -> None:
        if "preparing" in event:
            progress.stage("flashinfer", f"{event['preparing']}: building (JIT on first use) and running the kernel once")
        elif "prepared" in event and event.get("error"):
            progress.warn(f"{event['prepared']}: the FlashInfer binding failed: {event['error']}")
        elif "id" in event:
            verdict = "done" if event.get("ok") else f"failed: {event.get('error')}"
            progress.stage(stage, f"{event['id']}: {verdict} ({event.get('seconds', 0):.1f}s)")

    return listen


def render_table(outcome: VerificationRun) -> str:
    env = outcome.environment
    where = f"{env.gpu_name}, flashinfer {env.flashinfer}, torch {env.torch}" if outcome.mode == "flashinfer" else "CPU checks only, no status written"
    lines = [f"verification ({where})", ""]
    width = max((len(r.name) for r in outcome.results), default=10)
    for result in outcome.results:
        verdict = ("verified" if outcome.mode == "flashinfer" else "ok") if result.passed else "FAILED"
        lines.append(f"  {result.name:<{width}}  {verdict:<10}  {result.summary}")
    passed = sum(r.passed for r in outcome.results)
    label = "verified" if outcome.mode == "flashinfer" else "passed the CPU checks"
    lines += ["", f"total: {passed} {label}, {len(outcome.results) - passed} failed"]
    return "\n".join(lines)
