"""Contribution bundles: the dataset files one pull request adds or changes.

Two kinds, as the dataset's maintainers review them:

- `definitions`: new definitions, each with its reference test, its baseline solution
  and (only when the user supplied them) its workloads, blobs and traces. One definition
  per bundle by default (`--group per-definition`, the dataset's rule), or every new
  definition of a model in one (`--group per-model`).
- `tags`: existing definitions a model shares, with the model's tags added; one bundle
  per model.

A bundle's key is a hash of its paths and bytes: the same content always has the same
key, so a pull request that already carries it is recognised and never opened twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tools.publish.layout import classify, definition_path, layout_problems, reference_test_path

BundleKind = Literal["definitions", "tags"]


@dataclass
class Bundle:
    id: str
    """Stable identity across runs: `definition:<name>`, `model:<slug>` or `tags:<slug>`."""
    kind: BundleKind
    branch: str
    """The branch (local, GitHub) its files are committed on."""
    models: list[str]
    """Model slugs the bundle is for."""
    definitions: list[str]
    """Definition names it adds or changes."""
    files: dict[str, bytes] = field(default_factory=dict)
    """Dataset-relative path -> content."""
    verified: bool = True
    """Every definition it adds earned `status:verified` in this run (tag bundles: always)."""
    unverified_reasons: list[str] = field(default_factory=list)
    """Why not, per definition: the body of a draft pull request quotes them."""

    @property
    def key(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return digest.hexdigest()[:16]

    @property
    def has_workloads(self) -> bool:
        return any((classify(p) or ("", {}))[0] == "workload" for p in self.files)

    def problems(self) -> list[str]:
        """Paths the validator would skip; a bundle with any is never published."""
        return layout_problems(sorted(self.files))


def definition_files(
    definition_file: Path,
    definition: dict,
    *,
    solution_file: Path | None,
    reference_test: str | None,
    workloads_dir: Path | None = None,
) -> dict[str, bytes]:
    """One new definition's files, read from where extraction and verification wrote them."""
    op, name = definition["op_type"], definition["name"]
    files = {definition_path(op, name): Path(definition_file).read_bytes()}
    if reference_test is not None:
        files[reference_test_path(name)] = reference_test.encode()
    if solution_file is not None:
        solution_file = Path(solution_file)
        files[f"solutions/{solution_file.parent.parent.parent.name}/{op}/{name}/{solution_file.name}"] = solution_file.read_bytes()
    if workloads_dir is not None:
        files.update(supplied_workloads(Path(workloads_dir), op, name))
    return files


def supplied_workloads(root: Path, op_type: str, name: str) -> dict[str, bytes]:
    """The user's workloads, blobs and traces for one definition, in the dataset layout.

    Only files that exist under `root` in the dataset's own layout are taken: the agent
    never makes workloads up (maintainers reject synthetic ones)."""
    found: dict[str, bytes] = {}
    candidates = [root / "workloads" / op_type / f"{name}.jsonl"]
    candidates += sorted((root / "blob" / "workloads" / op_type / name).glob("*.safetensors"))
    candidates += sorted((root / "traces").glob(f"*/{op_type}/{name}.jsonl"))
    for path in candidates:
        if path.is_file():
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def definitions_bundle(bundle_id: str, branch: str, models: list[str], per_definition: dict[str, dict[str, bytes]], unverified: dict[str, str]) -> Bundle:
    """A bundle of new definitions; `unverified` maps each definition not verified in this run to why."""
    files: dict[str, bytes] = {}
    for definition_files_ in per_definition.values():
        files.update(definition_files_)
    return Bundle(
        id=bundle_id,
        kind="definitions",
        branch=branch,
        models=models,
        definitions=sorted(per_definition),
        files=files,
        verified=not unverified,
        unverified_reasons=[f"{name}: {why}" for name, why in sorted(unverified.items())],
    )


def tags_bundle(model: str, changed: dict[str, tuple[str, bytes]]) -> Bundle:
    """Existing definitions `model` shares, as the store rewrote them (tags added); by name -> (op_type, bytes)."""
    return Bundle(
        id=f"tags:{model}",
        kind="tags",
        branch=f"agent/tags-{model}",
        models=[model],
        definitions=sorted(changed),
        files={definition_path(op, name): data for name, (op, data) in changed.items()},
    )
