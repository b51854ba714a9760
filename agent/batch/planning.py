"""The gate and the bundles: what each pull request carries, and what is held back and why.

    new definition, verified in this run        -> a bundle (ready)
    new definition, not verified                -> held back; a 🟡 draft with --allow-unverified
    shared definition (a model's tags added)    -> the model's tag bundle (one per model)
    existing definition                         -> nothing
    conflict                                    -> held back, with how the signatures differ

A bundle whose paths the validator would skip is held back as a whole, and so is a tag
bundle in which a file changed by more than the model's `model:`/`tp:`/`ep:` tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from agent.batch.extraction import ModelOutcome
from agent.batch.verification import Candidate
from tools.publish.bundle import Bundle, definition_files, definitions_bundle, tags_bundle
from tools.publish.layout import definition_path, reference_test_path
from tools.publish.state import Verdict

Group = Literal["per-definition", "per-model"]
BundleStatus = Literal["ready", "draft", "blocked", "planned"]

ReferenceTestMaker = Callable[[dict], str]
"""A definition -> its generated `tests/references/test_{name}.py`; raises ValueError when it cannot."""


@dataclass
class PlannedBundle:
    bundle: Bundle
    status: BundleStatus
    reasons: list[str] = field(default_factory=list)


@dataclass
class HeldBack:
    name: str
    models: list[str]
    reason: str


@dataclass
class Plan:
    bundles: list[PlannedBundle] = field(default_factory=list)
    held_back: list[HeldBack] = field(default_factory=list)


@dataclass
class PlanOptions:
    group: Group = "per-definition"
    allow_unverified: bool = False
    workloads: Path | None = None
    dry_run: bool = False


def plan_bundles(
    dataset: Path,
    outcomes: list[ModelOutcome],
    candidates: dict[str, Candidate],
    candidate_root: Path,
    verdicts: dict[str, Verdict],
    reference_test: ReferenceTestMaker,
    options: PlanOptions,
) -> Plan:
    plan = Plan()
    for outcome in outcomes:
        for entry in outcome.of("conflict"):
            detail = "; ".join(entry.differences) or "the signatures differ"
            existing = definition_path(entry.op_type, entry.name)
            plan.held_back.append(HeldBack(entry.name, [outcome.slug], f"conflict with the dataset's {existing}: {detail}"))
    included: dict[str, dict[str, bytes]] = {}
    unverified: dict[str, str] = {}
    for name, candidate in candidates.items():
        verdict = verdicts.get(name)
        if candidate.conflict:
            plan.held_back.append(HeldBack(name, candidate.models, candidate.conflict))
            continue
        if not options.dry_run and not (verdict and verdict.verified):
            why = verdict.summary if verdict else "not verified"
            if not options.allow_unverified:
                plan.held_back.append(HeldBack(name, candidate.models, f"not verified in this run: {why}"))
                continue
            unverified[name] = why
        try:
            included[name] = _definition_files(candidate, candidate_root, verdict, reference_test, options)
        except ValueError as exc:
            plan.held_back.append(HeldBack(name, candidate.models, str(exc)))
    plan.bundles += _group(included, candidates, unverified, options)
    for outcome in outcomes:
        tags = _tag_bundle(dataset, outcome, options.dry_run)
        if tags is not None:
            plan.bundles.append(tags)
    for planned in plan.bundles:
        problems = planned.bundle.problems()
        if problems:
            planned.status, planned.reasons = "blocked", problems
    return plan


def _definition_files(candidate: Candidate, root: Path, verdict: Verdict | None, reference_test: ReferenceTestMaker, options: PlanOptions) -> dict[str, bytes]:
    if options.dry_run:  # nothing was written: the planned definition, as it would be
        return {
            definition_path(candidate.op_type, candidate.name): (json.dumps(candidate.definition, indent=2) + "\n").encode(),
            reference_test_path(candidate.name): reference_test(candidate.definition).encode(),
        }
    definition_file = root / definition_path(candidate.op_type, candidate.name)
    stored = json.loads(definition_file.read_text(encoding="utf-8"))  # with the status the gate wrote
    solution = Path(verdict.baseline_solution) if verdict and verdict.baseline_solution else None
    return definition_files(definition_file, stored, solution_file=solution, reference_test=reference_test(stored), workloads_dir=options.workloads)


def _group(included: dict[str, dict[str, bytes]], candidates: dict[str, Candidate], unverified: dict[str, str], options: PlanOptions) -> list[PlannedBundle]:
    if options.group == "per-definition":
        groups = {f"definition:{name}": ([name], f"agent/def-{name}") for name in included}
    else:
        groups = {}
        for name in included:
            model = candidates[name].models[0]
            names, _ = groups.setdefault(f"model:{model}", ([], f"agent/model-{model}"))
            names.append(name)
    planned = []
    for bundle_id, (names, branch) in groups.items():
        models = sorted({m for n in names for m in candidates[n].models}, key=lambda m: [c for n in names for c in candidates[n].models].index(m))
        bundle = definitions_bundle(bundle_id, branch, models, {n: included[n] for n in names}, {n: unverified[n] for n in names if n in unverified})
        status: BundleStatus = "planned" if options.dry_run else ("ready" if bundle.verified else "draft")
        planned.append(PlannedBundle(bundle, status, list(bundle.unverified_reasons)))
    return planned


TAG_PREFIXES_A_MODEL_ADDS = ("model:", "tp:", "ep:")


def tag_change_problem(original: dict, updated: dict) -> str | None:
    """Why a shared definition's new version is more than the model's tags appended, if it is.

    The dataset's maintainers take a shared kernel's file back with only `model:`, `tp:` and
    `ep:` tags added: no other field, no other tag, the existing tags in their order."""
    if list(updated) != list(original) or any(updated[k] != original[k] for k in original if k != "tags"):
        return "fields other than tags changed"
    old, new = original.get("tags", []), updated.get("tags", [])
    added = [t for t in new if t not in old]
    if [t for t in new if t in old] != old or len(new) != len(set(new)):
        return "the existing tags were reordered or removed"
    others = [t for t in added if not t.startswith(TAG_PREFIXES_A_MODEL_ADDS)]
    if others:
        return f"tags other than model:/tp:/ep: were added ({', '.join(others)})"
    return None


def _tag_bundle(dataset: Path, outcome: ModelOutcome, dry_run: bool) -> PlannedBundle | None:
    shared = outcome.of("shared")
    if not shared:
        return None
    changed: dict[str, tuple[str, bytes]] = {}
    reasons = []
    for entry in shared:
        original_path = Path(dataset) / definition_path(entry.op_type, entry.name)
        original = json.loads(original_path.read_text(encoding="utf-8"))
        if dry_run:
            added = [t for t in entry.added_tags if t not in original.get("tags", [])]
            updated = dict(original, tags=original.get("tags", []) + added)
            data = (json.dumps(updated, indent=2) + "\n").encode()
        else:
            data = Path(entry.path).read_bytes()
            updated = json.loads(data)
        problem = tag_change_problem(original, updated)
        if problem:
            reasons.append(f"{entry.name}: {problem}")
        changed[entry.name] = (entry.op_type, data)
    bundle = tags_bundle(outcome.slug, changed)
    if reasons:
        return PlannedBundle(bundle, "blocked", reasons)
    return PlannedBundle(bundle, "planned" if dry_run else "ready")
