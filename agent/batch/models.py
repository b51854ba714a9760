"""Which models a batch runs: named, listed in a file, or the whole catalog."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from pydantic import BaseModel

from tools.errors import ConfigError, UnknownModelError
from tools.model_registry.catalog import Catalog

_OPTION = re.compile(r"^(tp|ep)=(\d+(?:,\d+)*)$")


class BatchModel(BaseModel):
    name: str
    """As the user wrote it; resolved by the extraction like `agent extract --model-name`."""
    slug: str
    """The catalog's slug: the model's `model:` tag and its workspace's name."""
    tp: list[int] | None = None
    ep: list[int] | None = None


def from_names(names: list[str], catalog: Catalog) -> list[BatchModel]:
    return [_resolve(name, catalog) for name in names]


def from_file(path: Path, catalog: Catalog) -> list[BatchModel]:
    """One model per line, `NAME [tp=N[,N]] [ep=N[,N]]`; `#` starts a comment."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read the models file {path}: {exc.strerror}.") from exc
    models = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, *options = line.split()
        sizes: dict[str, list[int]] = {}
        for option in options:
            match = _OPTION.match(option)
            if not match or int(min(match[2].split(","), key=int)) < 1:
                raise ConfigError(f"{path}:{number}: cannot read {option!r}.", hint="Write `NAME tp=8 ep=8` (positive integers, commas for several).")
            sizes[match[1]] = [int(v) for v in match[2].split(",")]
        models.append(_resolve(name, catalog).model_copy(update=sizes))
    if not models:
        raise ConfigError(f"The models file {path} names no model.")
    return models


def from_catalog(catalog: Catalog) -> list[BatchModel]:
    return [BatchModel(name=entry.slug, slug=entry.slug) for entry in catalog.models]


def _resolve(name: str, catalog: Catalog) -> BatchModel:
    entry = catalog.find(name)
    if entry is None:
        known = [e.slug for e in catalog.models]
        close = difflib.get_close_matches(name.lower(), known, n=3)
        raise UnknownModelError(
            f"Unknown model {name!r}: a batch takes models of the catalog.",
            hint=(f"Did you mean {', '.join(close)}? " if close else "") + "List them with `agent models`; extract others one by one with `agent extract --config`.",
            candidates=close,
        )
    return BatchModel(name=name, slug=entry.slug)


def unique(models: list[BatchModel]) -> list[BatchModel]:
    """Each model once, in order; the same model asked at two profiles is an error."""
    by_slug: dict[str, BatchModel] = {}
    for model in models:
        first = by_slug.setdefault(model.slug, model)
        if (first.tp, first.ep) != (model.tp, model.ep):
            raise ConfigError(f"{model.slug} is listed twice with different tp/ep.", hint="List each model once, with all its sizes: `NAME tp=4,8`.")
    return list(by_slug.values())
