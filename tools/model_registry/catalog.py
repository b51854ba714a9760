"""The models the agent knows by name, with their shipped configs and serving profiles."""

from __future__ import annotations

import json
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tools.errors import ConfigError

CATALOG_DIR = Path(__file__).parent
CATALOG_FILE = CATALOG_DIR / "catalog.toml"


class ServingProfile(BaseModel):
    """Parallel sizes and cache layout a model is extracted at."""

    tp: list[int] = Field(default_factory=lambda: [1])
    """Tensor-parallel sizes; attention definitions are emitted for each."""
    ep: list[int] = Field(default_factory=lambda: [1])
    """Expert-parallel sizes; MoE definitions are emitted for each."""
    page_sizes: list[int] = Field(default_factory=lambda: [1, 64])
    """KV-cache page sizes for paged attention."""


class CatalogEntry(BaseModel):
    slug: str
    """Model tag written into definitions (`model:<slug>`)."""
    display_name: str
    hf_repo_id: str
    aliases: list[str] = Field(default_factory=list)
    config: str
    """Config file name under the catalog's configs/ directory."""
    architecture: str | None = None
    """Overrides the config's `architectures[0]` (e.g. the text-only class of a VLM)."""
    text_config_key: str | None = None
    """Extract from this nested config (e.g. `text_config`) instead of the top level."""
    config_defaults: dict[str, Any] = Field(default_factory=dict)
    """Values transformers fills in for fields the published config.json omits."""
    tp: list[int] = Field(default_factory=lambda: [1])
    ep: list[int] = Field(default_factory=lambda: [1])
    page_sizes: list[int] = Field(default_factory=lambda: [1, 64])
    sources: list[str] = Field(default_factory=list)

    @property
    def profile(self) -> ServingProfile:
        return ServingProfile(tp=self.tp, ep=self.ep, page_sizes=self.page_sizes)

    @property
    def config_path(self) -> Path:
        return CATALOG_DIR / "configs" / self.config

    def names(self) -> list[str]:
        return [self.slug, self.hf_repo_id, self.hf_repo_id.split("/")[-1], *self.aliases]


class Catalog(BaseModel):
    models: list[CatalogEntry]

    @classmethod
    def load(cls, path: Path = CATALOG_FILE) -> "Catalog":
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        return cls(models=[CatalogEntry(**entry) for entry in data.get("model", [])])

    @cached_property
    def by_name(self) -> dict[str, CatalogEntry]:
        table: dict[str, CatalogEntry] = {}
        for entry in self.models:
            for name in entry.names():
                table.setdefault(normalize_name(name), entry)
        return table

    def find(self, name: str) -> CatalogEntry | None:
        return self.by_name.get(normalize_name(name))


def normalize_name(name: str) -> str:
    """Lower-case, `_` and spaces as `-`, so `Qwen3_8B` and `qwen3-8b` match."""
    return "-".join(name.strip().lower().replace("_", "-").split())


def load_config_file(path: Path) -> dict[str, Any]:
    """Read an HF config.json, with errors that say what is wrong and where."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"Config file {path} does not exist.", hint="Pass --config the path of the model's config.json.") from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            hint="Use the model's config.json from Hugging Face, unmodified.",
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object (an HF config), not {type(data).__name__}.")
    return data
