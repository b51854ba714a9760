"""`agent`: the command line. The only place that maps errors to exit codes.

    agent extract --model-name llama            extract one model's kernel definitions
    agent verify --all                          verify definitions against FlashInfer (GPU)
    agent baseline --model-name llama           document SGLang's baseline implementation of its kernels
    agent eval                                  score extraction against the ground truth in evals/
    agent batch --models a,b --dataset DIR      extract, verify and open pull requests for many models
    agent models                                list the models known by name
    agent graph                                 print the agent's state machine (Mermaid)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import traceback

from agent import exit_codes
from agent.commands import baseline, batch, extract, graph, models, verify
from agent.commands import eval as evaluate
from agent.interruption import Interrupted, stop_on_signals
from tools.errors import ExtractionError

COMMANDS = (extract, verify, baseline, evaluate, batch, models, graph)
STOPPED_BY = {signal.SIGINT: exit_codes.INTERRUPTED, signal.SIGTERM: exit_codes.TERMINATED}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent",
        description="Extract FlashInfer-Trace kernel definitions for a model from its SGLang implementation.",
        epilog="Exit status: 0 success, 2 bad input (nothing written), 3 some kernels pending or failed, "
        "4 conflicts with the dataset (not written; see the report), 5 (verify) none failed but some could not be "
        "verified here, 6 (batch) a remote refused a request, 1 internal error, 130 interrupted (Ctrl-C), "
        "143 terminated (SIGTERM).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with stop_on_signals():  # SIGINT and SIGTERM raise Interrupted: see agent/interruption.py
        try:
            return args.run(args)
        except ExtractionError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            if exc.hint:
                print(f"hint: {exc.hint}", file=sys.stderr)
            return exit_codes.BAD_INPUT
        except KeyboardInterrupt as exc:  # Interrupted; a plain one only from code that raises it itself
            stopped = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
            print("interrupted" if stopped.signum == signal.SIGINT else f"stopped by {stopped.signal_name}", file=sys.stderr)
            if getattr(args, "command", None) in ("extract", "batch") and not getattr(args, "dry_run", False):
                print("hint: run the same command with --resume to continue from the last checkpoint", file=sys.stderr)
            return STOPPED_BY[stopped.signum]
        except BrokenPipeError:
            return exit_codes.SUCCESS
        except Exception:  # a bug: say so, with the traceback
            traceback.print_exc()
            print("error: internal error (this is a bug in the agent; please report it with the traceback above)", file=sys.stderr)
            return exit_codes.INTERNAL_ERROR


def run() -> None:
    """The `agent` program: `main` on the command line's arguments, then exit with its status."""
    status = main()
    if status in STOPPED_BY.values():
        # Stopped by a signal: everything that needed cleaning up was, on the way out of
        # `main` (the sandbox worker ended, the checkpoints closed, temporary files gone).
        # The interpreter's own teardown, unloading torch and LangGraph, takes seconds on
        # a busy machine, and the user asked to stop now.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(status)
    # The interpreter's last garbage collections walk every object torch and LangGraph
    # made: over a second on a busy machine, after the work is done. Frozen objects are
    # skipped; files and children are already closed.
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
