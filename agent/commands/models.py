"""`agent models`: the models known by name, with their default serving profiles."""

from __future__ import annotations

import argparse

from agent import exit_codes
from tools.model_registry.catalog import Catalog


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list the models the agent knows by name")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    catalog = Catalog.load()
    width = max(len(m.slug) for m in catalog.models)
    for entry in sorted(catalog.models, key=lambda m: m.slug):
        aliases = ", ".join(entry.aliases[:4])
        print(f"{entry.slug:<{width}}  tp={entry.tp} ep={entry.ep}  {entry.hf_repo_id}  (aliases: {aliases})")
    return exit_codes.SUCCESS
