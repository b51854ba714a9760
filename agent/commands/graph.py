"""`agent graph`: print the extraction state machine as a Mermaid diagram."""

from __future__ import annotations

import argparse

from agent import exit_codes


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("graph", help="print the agent's LangGraph state machine (Mermaid)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from agent.graph import mermaid

    print(mermaid())
    return exit_codes.SUCCESS
