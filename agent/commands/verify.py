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
from tools.verification.bindings import api_name
from tools.verification.dry_run import DryRun, dry_run, render_dry_run
from tools.verification.environment import probe_environment
from tools.verification.gate import flashinfer_comparer, run_verification
from tools.verification.report import Comparison
from tools.verification.run_log import DefinitionResult, VerificationRun, write_run
from tools.verification.sandbox import GPU_LIMITS, SandboxLimits
from tools.verification.selection import select_definitions

HELP = """\
Run each selected definition's reference and the FlashInfer kernel it stands for on the
same inputs (edge cases and large batches included), on a GPU, and compare them as
flashinfer-bench would. The kernel is found from the definition itself: its fi_api tag
(any spelling), else its op type and inputs. Where FlashInfer's own API for it does not
run on this GPU, an SM90 kernel computing the same math may stand in; the table then
names the API used and what FlashInfer checked.

Verdicts: verified (agrees on every case), failed (a mismatch report, or the reference
raised), unverifiable (no binding, no kernel for this GPU, or the kernel could not be
built here; the reason is given). Status: a verified definition becomes status:verified
and gets a baseline solution under DIR/solutions/baseline/{op_type}/{name}/; a failed one becomes
status:unverified only if it had no status, was unverified, or carries the status
agent verify last wrote for it (--demote-failed: always); a status written by someone
else is kept and the disagreement is reported; unverifiable ones are left untouched.

Without a CUDA GPU only the CPU checks run (the reference runs and returns finite,
deterministic outputs of the declared shapes and dtypes) and no status is written.
--dry-run writes nothing and needs no GPU: which binding each definition gets, its
cases, and whether its inputs can be generated. Every run is logged under
DIR/verification/ (versions, GPU, per-definition verdicts)."""

EPILOG = (
    "Exit status: 0 all verified (or all CPU checks passed), 3 some failed, 5 none failed but some are "
    "unverifiable, 2 bad input (unknown names, empty dataset), 1 internal error."
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "verify",
        help="verify definitions against FlashInfer on a GPU (status:verified)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="definition names to verify")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model-name", metavar="M", help="verify every definition tagged with this model")
    which.add_argument("--all", action="store_true", help="verify every definition in the dataset")
    parser.add_argument("--output", default="flashinfer_trace", metavar="DIR", help="dataset root (default: ./flashinfer_trace)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--cpu", action="store_true", help="run the CPU checks only, even where a GPU is available")
    mode.add_argument("--dry-run", action="store_true", help="resolve bindings, list cases, generate inputs on the CPU; write nothing")
    parser.add_argument("--demote-failed", action="store_true", help="mark failed definitions unverified even where another hand wrote their status")
    parser.add_argument("--timeout", type=float, default=GPU_LIMITS.timeout_s, metavar="S", help="seconds allowed per definition")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="sandbox workers sharing the GPU (default 1)")
    parser.add_argument(
        "--build-timeout",
        type=float,
        default=GPU_LIMITS.prepare_timeout_s,
        metavar="S",
        help="seconds allowed to build (JIT) and first run one FlashInfer kernel; past it the definition is unverifiable",
    )
    parser.add_argument("--json", action="store_true", help="print the run's report as JSON instead of a table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.names and (args.model_name or args.all):
        raise ExtractionError("Name definitions, or pass --model-name or --all, not both.")
    root = Path(args.output)
    store = DefinitionStore(root)
    definitions = select_definitions(store, names=args.names, model=args.model_name, select_all=args.all)
    progress = Progress(quiet=args.quiet)
    if args.dry_run:
        progress.stage("verify", f"dry run over {len(definitions)} definitions: bindings, cases and inputs on the CPU; nothing is written")
        # A large MoE's weights take minutes to draw on a small machine: a generous per-definition limit.
        outcome = dry_run(definitions, limits=SandboxLimits(timeout_s=max(args.timeout, 600.0)), on_event=_progress_listener(progress, "inputs"))
        _print(args, outcome, render_dry_run(outcome))
        return _dry_run_status(outcome)
    check_writable(root)
    environment = probe_environment(use_gpu=not args.cpu)
    if environment.device == "gpu":
        progress.stage("verify", f"{len(definitions)} definitions against FlashInfer {environment.flashinfer} on {environment.gpu_name}")
        limits = GPU_LIMITS.model_copy(update={"timeout_s": args.timeout, "prepare_timeout_s": args.build_timeout})
    else:
        reason = "--cpu given" if args.cpu else "no CUDA GPU with FlashInfer on this machine"
        progress.stage("verify", f"{reason}: running the CPU checks only for {len(definitions)} definitions; no status is written")
        limits = SandboxLimits()
    selection = {"names": args.names, "model": args.model_name, "all": args.all}
    stage = "compare" if environment.device == "gpu" else "check"
    listener = _progress_listener(progress, stage)
    compare_on_gpu = flashinfer_comparer(environment, limits=limits, on_event=listener, workers=args.workers)
    with contextlib.ExitStack() as writing:

        def compare(chosen: list[dict[str, Any]]) -> dict[str, Comparison]:
            comparisons = compare_on_gpu(chosen)
            # What follows writes the statuses, baseline solutions and the run's log: a
            # Ctrl-C from here on waits for them, so that none is left without the others.
            writing.enter_context(held())
            return comparisons

        outcome = run_verification(
            store,
            definitions,
            environment,
            selection=selection,
            limits=limits,
            on_event=listener,
            compare=compare,
            demote_failed=args.demote_failed,
        )
        writing.enter_context(held())  # the run's report and its line in the log
        log_path = write_run(root, outcome)
    _print(args, outcome, render_table(outcome) + f"\nlog: {log_path}")
    return exit_status(outcome)


def _print(args: argparse.Namespace, outcome: VerificationRun | DryRun, table: str) -> None:
    if args.json:
        json.dump(outcome.model_dump(mode="json"), sys.stdout, indent=2)
        print()
    else:
        print(table)


def exit_status(outcome: VerificationRun) -> int:
    """Failures first, then definitions nothing here could judge."""
    if any(not r.passed and r.verdict in (None, "failed") for r in outcome.results):
        return exit_codes.INCOMPLETE
    if outcome.count("unverifiable"):
        return exit_codes.UNVERIFIABLE
    return exit_codes.SUCCESS


def _dry_run_status(outcome: DryRun) -> int:
    if any(case.error for entry in outcome.entries for case in entry.cases) or any(entry.static_problems for entry in outcome.entries):
        return exit_codes.INCOMPLETE
    if any(entry.binding is None for entry in outcome.entries):
        return exit_codes.UNVERIFIABLE
    return exit_codes.SUCCESS


def _progress_listener(progress: Progress, stage: str):
    def listen(event: dict[str, Any]) -> None:
        if "preparing" in event:
            progress.stage("flashinfer", f"{event['preparing']}: building (JIT on first use) and running the kernel")
        elif "prepared" in event and event.get("error"):
            progress.warn(f"{event['prepared']}: the FlashInfer binding failed: {event['error']}")
        elif "id" in event:
            verdict = "done" if event.get("ok") else f"failed: {event.get('error')}"
            progress.stage(stage, f"{event['id']}: {verdict} ({event.get('seconds', 0):.1f}s)")

    return listen


_VERDICT_WORDS = {"verified": "verified", "failed": "FAILED", "unverifiable": "unverifiable"}


def render_table(outcome: VerificationRun) -> str:
    env = outcome.environment
    on_gpu = outcome.mode == "flashinfer"
    where = (
        f"{env.gpu_name} (SM{(env.compute_capability or '?').replace('.', '')}), flashinfer {env.flashinfer}, torch {env.torch}"
        if on_gpu
        else "CPU checks only, no status written"
    )
    lines = [f"verification ({where})", ""]
    width = max((len(r.name) for r in outcome.results), default=10)
    indent = " " * (width + 18)
    for result in outcome.results:
        verdict = _VERDICT_WORDS.get(result.verdict or "", "ok" if result.passed else "FAILED")
        lines.append(f"  {result.name:<{width}}  {verdict:<12}  {result.summary}")
        lines += [indent + note for note in _notes(result)]
    if on_gpu:
        counts = ", ".join(f"{outcome.count(v)} {v}" for v in ("verified", "failed", "unverifiable"))
        lines += ["", f"total: {counts}"]
    else:
        passed = sum(r.passed for r in outcome.results)
        lines += ["", f"total: {passed} passed the CPU checks, {len(outcome.results) - passed} failed"]
    return "\n".join(lines)


def _notes(result: DefinitionResult) -> list[str]:
    """The API actually used where it is not the tagged one, what FlashInfer checked, and a kept status."""
    notes = []
    if result.api_used and result.verdict != "unverifiable":
        tagged = f" for fi_api {result.fi_api}" if result.fi_api and api_name(result.fi_api) != api_name(result.api_used) else ""
        if tagged or not result.fi_api:
            notes.append(f"via {result.api_used}{tagged}")
    if result.checked and result.verdict != "unverifiable":
        notes.append(f"FlashInfer checked: {result.checked}")
    if result.status_note:
        notes.append(result.status_note)
    return notes
