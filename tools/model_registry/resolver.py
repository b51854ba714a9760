"""Model name -> SGLang model file and entry class, config, and serving profile.

A name is looked up in the catalog (slugs, aliases, Hugging Face repo ids); the config
comes from `--config` or the catalog's shipped file. The config's `architectures` is
matched against the `EntryClass` each SGLang model file declares. Names that match
nothing exactly are matched fuzzily: a clear winner is taken and said so; otherwise the
closest names are listed and resolution fails.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import libcst as cst
from pydantic import BaseModel, Field

from tools.errors import ConfigError, UnknownModelError
from tools.model_registry.catalog import Catalog, CatalogEntry, ServingProfile, load_config_file, normalize_name
from tools.model_registry.hub import fetch_config, looks_like_repo_id
from tools.source_locator import SglangSource

_ENTRY_CLASS = re.compile(r"^EntryClass\s*=\s*", re.M)


class SglangModelClass(BaseModel):
    architecture: str
    module: str
    """Dotted module, e.g. `sglang.srt.models.llama`."""
    file: str
    """Path inside the package, e.g. `sglang/srt/models/llama.py`."""


class ResolvedModel(BaseModel):
    """Everything needed to extract one model."""

    slug: str
    display_name: str
    hf_repo_id: str | None = None
    architecture: str
    model_class: SglangModelClass
    config: dict[str, Any]
    config_source: str
    """`shipped:<file>` for catalog configs, else the --config path."""
    profile: ServingProfile
    chosen_because: str
    """Why this model was chosen for the given name."""
    other_matches: list[str] = Field(default_factory=list)
    """Other catalog models and SGLang files the name also matched."""
    other_classes: list[SglangModelClass] = Field(default_factory=list)
    """Other SGLang files whose EntryClass declares the same architecture."""
    aliases: list[str] = Field(default_factory=list)
    """Other names of the model (the catalog's aliases and repo name, lowercase): a dataset
    definition tagged `model:<alias>` is already tagged for this model."""


def scan_entry_classes(source: SglangSource) -> list[SglangModelClass]:
    """Every (architecture, file) pair the SGLang model files declare in `EntryClass`."""
    found: list[SglangModelClass] = []
    for path in sorted(source.models_dir.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _ENTRY_CLASS.finditer(text):
            for name in _entry_class_names(text[match.end():]):
                found.append(SglangModelClass(architecture=name, module=f"sglang.srt.models.{path.stem}", file=source.relative(path)))
    return found


def _entry_class_names(rest: str) -> list[str]:
    """Names in the expression that starts `rest` (`X`, `[X, Y]`, `(X,)`), parsed by libcst."""
    depth, end = 0, 0
    for end, ch in enumerate(rest):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "\n" and depth == 0:
            break
    else:
        end = len(rest)
    try:
        expr = cst.parse_expression(rest[:end].strip())
    except cst.ParserSyntaxError:
        return []
    elements = expr.elements if isinstance(expr, (cst.List, cst.Tuple)) else [expr]
    names = []
    for element in elements:
        node = element.value if isinstance(element, cst.BaseElement) else element
        if isinstance(node, cst.Name):
            names.append(node.value)
        elif isinstance(node, cst.Attribute):
            names.append(node.attr.value)
    return names


class ModelResolver:
    def __init__(self, source: SglangSource, catalog: Catalog | None = None, *, hub_cache: Path | None = None) -> None:
        self.source = source
        self.catalog = catalog or Catalog.load()
        self.hub_cache = hub_cache
        """Where hub configs are kept; None: never ask the hub (names must be known or --config given)."""
        self._classes: list[SglangModelClass] | None = None

    @property
    def classes(self) -> list[SglangModelClass]:
        if self._classes is None:
            self._classes = scan_entry_classes(self.source)
        return self._classes

    def resolve(self, name: str, *, config_path: Path | None = None) -> ResolvedModel:
        from_hub = config_path is None and self.hub_cache is not None and looks_like_repo_id(name) and self.catalog.find(name) is None
        entry, because = self._find_entry(name, allow_fuzzy=config_path is None and not from_hub)
        others = self._other_matches(name, entry)
        if config_path is not None:
            config = load_config_file(Path(config_path))
            config_source = str(config_path)
            because = because or f"--config {config_path}"
        elif from_hub:
            config, config_source = fetch_config(name.strip(), self.hub_cache)
            because = f"not in the catalog; config fetched for Hugging Face repository {name.strip()}"
        elif entry is not None:
            config = load_config_file(entry.config_path)
            config_source = f"shipped:{entry.config}"
        else:  # pragma: no cover - _find_entry raises when nothing matches without a config
            raise UnknownModelError(f"Unknown model {name!r}.")
        config, entry_applies = self._text_config(config, entry)
        architecture = self._architecture(config, entry if entry_applies else None, config_source)
        matches = [c for c in self.classes if c.architecture == architecture]
        if not matches:
            close = difflib.get_close_matches(architecture, sorted({c.architecture for c in self.classes}), n=5, cutoff=0.6)
            raise UnknownModelError(
                f"SGLang {self.source.version} has no model class for architecture {architecture!r}.",
                hint=("Closest SGLang architectures: " + ", ".join(close)) if close else "Check the config's `architectures` field.",
                candidates=close,
            )
        chosen = _prefer_by_model_type(matches, config)
        slug = entry.slug if entry else _slugify(name)
        return ResolvedModel(
            slug=slug,
            display_name=entry.display_name if entry else name,
            hf_repo_id=entry.hf_repo_id if entry else (name.strip() if from_hub else None),
            architecture=architecture,
            model_class=chosen,
            config=config,
            config_source=config_source,
            profile=entry.profile if entry else ServingProfile(),
            chosen_because=because or f"config architecture {architecture}",
            other_matches=others,
            other_classes=[m for m in matches if m is not chosen],
            aliases=sorted({n.lower() for n in entry.names()} - {slug}) if entry else [],
        )

    # ----------------------------------------------------------------- name lookup

    def _find_entry(self, name: str, *, allow_fuzzy: bool) -> tuple[CatalogEntry | None, str | None]:
        exact = self.catalog.find(name)
        if exact is not None:
            how = "alias" if normalize_name(name) not in (normalize_name(exact.slug), normalize_name(exact.hf_repo_id)) else "name"
            return exact, f"catalog {how} {name!r} -> {exact.slug} ({exact.hf_repo_id})"
        key = normalize_name(name)
        names = sorted(self.catalog.by_name)
        close = difflib.get_close_matches(key, names, n=5, cutoff=0.75)
        scored = [(difflib.SequenceMatcher(None, key, c).ratio(), c) for c in close]
        if scored and allow_fuzzy:
            best_score, best = max(scored)
            runner_up = max((s for s, c in scored if self.catalog.by_name[c] is not self.catalog.by_name[best]), default=0.0)
            if best_score >= 0.85 and best_score - runner_up >= 0.05:
                entry = self.catalog.by_name[best]
                return entry, f"closest catalog name to {name!r} is {best!r} (similarity {best_score:.2f}) -> {entry.slug}"
        if not allow_fuzzy:
            return None, None
        candidates = []
        for _, c in sorted(scored, reverse=True):
            slug = self.catalog.by_name[c].slug
            if slug not in candidates:
                candidates.append(slug)
        files = self._matching_files(name)
        hint = "Known models: run `agent models`. For a model not in the catalog, pass --config PATH to its config.json."
        message = f"Unknown model {name!r}."
        if candidates:
            message += " Closest known models: " + ", ".join(candidates) + "."
        if files:
            message += " SGLang model files with a similar name: " + ", ".join(files[:6]) + " (pass --config to extract one of those)."
        raise UnknownModelError(message, hint=hint, candidates=candidates + files)

    def _other_matches(self, name: str, chosen: CatalogEntry | None) -> list[str]:
        key = normalize_name(name)
        others: list[str] = []
        for entry in self.catalog.models:
            if entry is chosen:
                continue
            if any(normalize_name(n).startswith(key) or key in normalize_name(n).split("-") for n in entry.names()):
                others.append(f"catalog: {entry.slug}")
        chosen_file = None
        if chosen is not None:
            try:
                arch = chosen.architecture or load_config_file(chosen.config_path).get("architectures", [None])[0]
                chosen_file = next((c.file for c in self.classes if c.architecture == arch), None)
            except ConfigError:
                pass
        for file in self._matching_files(name):
            if file != chosen_file:
                others.append(f"sglang: {file}")
        return others

    def _matching_files(self, name: str) -> list[str]:
        key = normalize_name(name).replace("-", "")
        files = sorted({c.file for c in self.classes})
        hits = [f for f in files if key and key in Path(f).stem.replace("_", "")]
        if not hits:
            stems = {Path(f).stem.replace("_", ""): f for f in files}
            hits = [stems[s] for s in difflib.get_close_matches(key, list(stems), n=4, cutoff=0.7)]
        return hits

    # ----------------------------------------------------------------- config

    def _text_config(self, config: dict[str, Any], entry: CatalogEntry | None) -> tuple[dict[str, Any], bool]:
        """The config to extract from, and whether the catalog entry's architecture and
        defaults apply to it. A catalog model with a nested text config (Gemma 3's
        `text_config`) may be given its text-only config instead (`--config` of a
        Gemma3ForCausalLM checkpoint): then the config's own `architectures` decides."""
        key = entry.text_config_key if entry else None
        if key:
            nested = config.get(key)
            if isinstance(nested, dict):
                text = dict(nested)
                if config.get("quantization_config") is not None:
                    text.setdefault("quantization_config", config["quantization_config"])
                config = text
            elif not config.get("architectures"):
                raise ConfigError(
                    f"The config has neither a {key!r} object nor an `architectures` list naming the model class.",
                    hint=f"Pass the model's full config.json (with {key!r}) or a text-only config with its own `architectures`.",
                )
            else:
                own = config["architectures"][0]
                if entry is not None and entry.architecture and own != entry.architecture:
                    return config, False
        if entry is not None and entry.config_defaults:
            config = {**entry.config_defaults, **config}
        return config, True

    def _architecture(self, config: dict[str, Any], entry: CatalogEntry | None, source: str) -> str:
        if entry is not None and entry.architecture:
            return entry.architecture
        architectures = config.get("architectures")
        if not isinstance(architectures, list) or not architectures or not all(isinstance(a, str) for a in architectures):
            raise ConfigError(
                f"The config ({source}) has no `architectures` list naming the model class.",
                hint='An HF config.json has e.g. "architectures": ["LlamaForCausalLM"].',
            )
        return architectures[0]


def _prefer_by_model_type(matches: list[SglangModelClass], config: dict[str, Any]) -> SglangModelClass:
    if len(matches) == 1:
        return matches[0]
    model_type = str(config.get("model_type", "")).replace("-", "_")
    for match in matches:
        if Path(match.file).stem == model_type:
            return match
    return matches[0]


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", name.split("/")[-1].lower()).strip("-")
