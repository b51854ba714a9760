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
import sys
import traceback

from agent import exit_codes
from agent.commands import baseline, batch, extract, graph, models, verify
from agent.commands import eval as evaluate
from tools.errors import ExtractionError

COMMANDS = (extract, verify, baseline, evaluate, batch, models, graph)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent",
        description="Extract FlashInfer-Trace kernel definitions for a model from its SGLang implementation.",
        epilog="Exit status: 0 success, 2 bad input (nothing written), 3 some kernels pending or failed, "
        "4 conflicts with the dataset (not written; see the report), 5 (verify) none failed but some could not be "
        "verified here, 1 internal error, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ExtractionError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        if getattr(args, "command", None) in ("extract", "batch") and not getattr(args, "dry_run", False):
            print("hint: run the same command with --resume to continue from the last checkpoint", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        return exit_codes.SUCCESS
    except Exception:  # a bug: say so, with the traceback
        traceback.print_exc()
        print("error: internal error (this is a bug in the agent; please report it with the traceback above)", file=sys.stderr)
        return exit_codes.INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
