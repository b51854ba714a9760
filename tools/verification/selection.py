"""Which stored definitions a verification run covers: named ones, one model's, or all."""

from __future__ import annotations

import difflib
from typing import Any

from tools import naming
from tools.dedup_store import DefinitionStore
from tools.errors import EmptyDatasetError, UnknownDefinitionError, UnknownModelError
from tools.model_registry.catalog import Catalog


def select_definitions(store: DefinitionStore, *, names: list[str], model: str | None = None, select_all: bool = False) -> list[dict[str, Any]]:
    """The definitions to verify, sorted by name; raises on unknown names or an empty selection."""
    readable = {name: data for name, (_, data) in store.index().items() if not data.get("unreadable")}
    if not readable:
        raise EmptyDatasetError(
            f"No definitions in {store.definitions_dir}.",
            hint="Extract some first (`agent extract --model-name M --output DIR`), or point --output at the dataset root.",
        )
    if names:
        unknown = [n for n in names if n not in readable]
        if unknown:
            close = sorted({m for n in unknown for m in difflib.get_close_matches(n, readable, n=3)})
            raise UnknownDefinitionError(
                f"No definition named {', '.join(map(repr, unknown))} in {store.definitions_dir}.",
                hint=f"Did you mean {', '.join(close)}?" if close else "List them with `ls DIR/definitions/*/`.",
            )
        return [readable[n] for n in sorted(set(names))]
    if model:
        tag = naming.model_tag(model_slug(model, readable.values()))
        chosen = [d for d in readable.values() if tag in d.get("tags", [])]
        if not chosen:
            raise EmptyDatasetError(f"No definition in {store.definitions_dir} is tagged {tag}.", hint=f"Extract it first: `agent extract --model-name {model}`.")
        return sorted(chosen, key=lambda d: d["name"])
    if select_all:
        return [readable[n] for n in sorted(readable)]
    raise EmptyDatasetError("Nothing selected.", hint="Name definitions, or pass --model-name M or --all.")


def model_slug(name: str, definitions) -> str:
    """The `model:` tag value for a model name: the catalog's slug, or a tag the dataset already uses."""
    entry = Catalog.load().find(name)
    if entry is not None:
        return entry.slug
    used = {t[len(naming.MODEL_TAG_PREFIX) :] for d in definitions for t in d.get("tags", []) if t.startswith(naming.MODEL_TAG_PREFIX)}
    if name in used:
        return name
    raise UnknownModelError(f"Unknown model {name!r}.", hint=f"Models in this dataset: {', '.join(sorted(used)) or 'none'}.", candidates=sorted(used))
