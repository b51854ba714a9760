"""The ground truth: which definitions each model should get, and what some look like.

The data lives next to this module, in `ground_truth/`:

- `models/<slug>.toml`: the expected definition names at the model's serving profile,
  each with the public fact it comes from, plus the official names of flashinfer-bench's
  `docs/model_coverage.mdx` that are deliberately not expected (corrected or dropped);
- `signatures.json`: official Definition signatures (axes, input and output shapes and
  dtypes, constraints, tags) transcribed from the flashinfer-bench dataset by
  `evals/transcribe_signatures.py`: every definition of its last snapshot before it moved
  to Hugging Face, and a few sampled names from later commits;

Loading validates the data: an official name that is neither expected, replaced by a
corrected name, nor dropped with a reason is refused, so every disagreement with the
official list is written down.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.errors import ExtractionError, UnknownModelError
from tools.model_registry.catalog import Catalog

GROUND_TRUTH_DIR = Path(__file__).parent / "ground_truth"
HOLDOUT_DIR = Path(__file__).parent / "holdout"
"""Models outside the catalog, each with its public config.json (provenance in SOURCES.md):
how the extraction does on models nobody tuned it for."""

Family = Literal["dense_gqa", "gqa_moe", "mla_moe", "hybrid_linear"]
FAMILIES: tuple[Family, ...] = ("dense_gqa", "gqa_moe", "mla_moe", "hybrid_linear")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ExpectedDefinition(_Strict):
    name: str
    """A definition name the extraction must produce."""
    source: str = Field(min_length=1)
    """The public fact(s) the name comes from: the official list and the config values."""
    replaces: str | None = None
    """The official name this one corrects, where model_coverage.mdx disagrees with the config."""


class DroppedName(_Strict):
    name: str
    """An official name the model's serving profile does not run."""
    reason: str = Field(min_length=1)


class Unscored(_Strict):
    pattern: str
    """fnmatch pattern: unexpected names it matches are reported but not counted against precision."""
    reason: str = Field(min_length=1)
    """Why no expectation is set (no official name, or the kernel is not a bf16 default)."""


class TensorSignature(_Strict):
    shape: list[str] | None
    """Axis names, outermost first; None for a scalar."""
    dtype: str


class Signature(_Strict):
    """An official definition's interface: what the extraction's definition must match."""

    source: str = Field(min_length=1)
    op_type: str
    axes: dict[str, int | Literal["var"]]
    """Constant axes with their value, variable axes as "var"."""
    inputs: dict[str, TensorSignature]
    outputs: dict[str, TensorSignature]
    constraints: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    """The official file's tags, in file order (entries transcribed from other commits may omit them)."""
    models: list[str] = Field(default_factory=list)
    """A hand-derived signature (the holdout's) holds for these models only: dataset names do
    not carry the dtype, and a model served in float16 has float16 tensors under the same name
    a bfloat16 model has bfloat16 ones. Empty: an official file, for every model."""


class ModelTruth(_Strict):
    model: str
    """Catalog slug, or for a holdout model the name it is extracted under."""
    config: str | None = None
    """For a model outside the catalog: its config.json, relative to the ground-truth
    directory (made absolute when loaded); passed to the extraction as `--config`."""
    family: Family
    tp: list[int]
    """Tensor-parallel sizes the expectations are for (the catalog's serving profile)."""
    ep: list[int]
    """Expert-parallel sizes the expectations are for."""
    profile_source: str
    config_source: str
    official_source: str
    official: list[str] = Field(default_factory=list)
    """Names model_coverage.mdx lists for the model, as written there."""
    signatures: list[str] = Field(default_factory=list)
    """Expected names whose signature is checked against `signatures.json`."""
    notes: list[str] = Field(default_factory=list)
    expected: list[ExpectedDefinition]
    dropped: list[DroppedName] = Field(default_factory=list)
    unscored: list[Unscored] = Field(default_factory=list)

    @property
    def expected_names(self) -> set[str]:
        return {e.name for e in self.expected}

    def source_of(self, name: str) -> str | None:
        return next((e.source for e in self.expected if e.name == name), None)

    def unscored_reason(self, name: str) -> str | None:
        """Why an unexpected produced `name` is not counted, or None when it counts."""
        return next((u.reason for u in self.unscored if fnmatch.fnmatchcase(name, u.pattern)), None)

    @model_validator(mode="after")
    def _validate_expected_names_unique(self) -> "ModelTruth":
        names = [e.name for e in self.expected]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{self.model}: expected more than once: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _validate_official_names_accounted_for(self) -> "ModelTruth":
        accounted = self.expected_names | {e.replaces for e in self.expected if e.replaces} | {d.name for d in self.dropped}
        loose = [n for n in self.official if n not in accounted]
        if loose:
            raise ValueError(f"{self.model}: official names neither expected, replaced nor dropped: {', '.join(loose)}")
        return self

    @model_validator(mode="after")
    def _validate_sampled_signatures_are_expected(self) -> "ModelTruth":
        stray = [n for n in self.signatures if n not in self.expected_names]
        if stray:
            raise ValueError(f"{self.model}: signatures sampled for names it does not expect: {', '.join(stray)}")
        return self


class GroundTruth(_Strict):
    models: dict[str, ModelTruth]
    """By catalog slug."""
    signatures: dict[str, Signature]
    """Official signatures by definition name."""

    @model_validator(mode="after")
    def _validate_sampled_signatures_exist(self) -> "GroundTruth":
        for truth in self.models.values():
            missing = [n for n in truth.signatures if n not in self.signatures]
            if missing:
                raise ValueError(f"{truth.model}: no official signature recorded for {', '.join(missing)}")
        return self

    @classmethod
    def load(cls, root: Path = GROUND_TRUTH_DIR) -> "GroundTruth":
        models = {}
        for path in sorted((root / "models").glob("*.toml")):
            with path.open("rb") as handle:
                data = tomllib.load(handle)
            try:
                truth = ModelTruth.model_validate(data)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from exc
            if truth.model != path.stem:
                raise ValueError(f"{path}: declares model {truth.model!r}; the file must be named after it")
            if truth.config is not None:
                config = root / truth.config
                if not config.is_file():
                    raise ValueError(f"{path}: config {truth.config!r} is not a file under {root}")
                truth.config = str(config)
            models[truth.model] = truth
        signatures_path = root / "signatures.json"
        # The holdout has none: its models are outside the official dataset.
        signatures = json.loads(signatures_path.read_text(encoding="utf-8")) if signatures_path.exists() else {}
        return cls(models=models, signatures=signatures)

    def select(self, names: list[str] | None = None, families: list[str] | None = None) -> list[ModelTruth]:
        """The models to evaluate: by name (slug or catalog alias), by family, or all (grouped by family)."""
        chosen = sorted(self.models.values(), key=lambda t: (FAMILIES.index(t.family), t.model))
        if names:
            catalog = Catalog.load()
            chosen = []
            for name in names:
                entry = catalog.find(name)
                slug = entry.slug if entry else name
                if slug not in self.models:
                    raise UnknownModelError(
                        f"No ground truth for model {name!r}.",
                        hint="Models with ground truth: " + ", ".join(sorted(self.models)),
                        candidates=sorted(self.models),
                    )
                if self.models[slug] not in chosen:
                    chosen.append(self.models[slug])
        if families:
            unknown = [f for f in families if f not in FAMILIES]
            if unknown:
                raise ExtractionError(f"Unknown model family {unknown[0]!r}.", hint="Families: " + ", ".join(FAMILIES))
            chosen = [t for t in chosen if t.family in families]
        return chosen
