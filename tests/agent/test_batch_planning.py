"""The gate and the bundles, on definitions built as extraction builds them and verified by
the real gate (`run_verification`) against their template references on the CPU, the
comparison a GPU run makes against FlashInfer."""

from __future__ import annotations

import json
from pathlib import Path

from agent.batch.extraction import ModelOutcome, definition_outcome
from agent.batch.planning import PlanOptions, plan_bundles, tag_change_problem
from agent.batch.verification import merge_candidates, verdicts_of, write_candidates
from tests.tools.verification.definitions import build
from tests.tools.verification.test_gate import GPU
from tools.dedup_store import DefinitionStore
from tools.verification.gate import run_verification
from tools.verification.inputs import default_cases
from tools.verification.verify import compare_references


def outcome(tmp_path: Path, slug: str, definitions: list[dict]) -> ModelOutcome:
    store = DefinitionStore(tmp_path / "workspaces" / slug)
    entries = []
    for definition in definitions:
        entries.append(definition_outcome(store.commit(definition), definition))
    return ModelOutcome(slug=slug, display_name=slug, definitions=entries)


def verified_in_this_run(tmp_path: Path, outcomes: list[ModelOutcome], trusted: dict[str, str]):
    candidates = merge_candidates(outcomes)
    store = write_candidates(tmp_path / "candidates", candidates)

    def against_templates(definitions):
        return {d["name"]: compare_references(d, trusted[d["name"]], {"reference": d["reference"]}, cases=default_cases(d, "check"))["reference"] for d in definitions}

    run = run_verification(store, [store.get(n) for n in sorted(candidates)], GPU, compare=against_templates)
    return candidates, verdicts_of(run)


def make_test(definition: dict) -> str:
    return f"def test_{definition['name']}():\n    assert True\n"


def test_only_definitions_verified_in_this_run_are_bundled(tmp_path):
    good, bad = build("rmsnorm", hidden_size=64), build("fused_add_rmsnorm", hidden_size=64)
    trusted = {good["name"]: good["reference"], bad["name"]: bad["reference"]}
    bad = dict(bad, reference=bad["reference"].replace("+ residual.to(torch.float32)", ""), tags=bad["tags"] + ["status:verified"])
    outcomes = [outcome(tmp_path, "model-a", [good, bad])]
    candidates, verdicts = verified_in_this_run(tmp_path, outcomes, trusted)

    plan = plan_bundles(tmp_path, outcomes, candidates, tmp_path / "candidates", verdicts, make_test, PlanOptions())
    (bundle,) = [p.bundle for p in plan.bundles]
    assert plan.bundles[0].status == "ready" and bundle.id == f"definition:{good['name']}" and bundle.branch == f"agent/def-{good['name']}"
    name = good["name"]
    assert sorted(bundle.files) == [
        f"definitions/rmsnorm/{name}.json",
        f"solutions/baseline/rmsnorm/{name}/{name}_flashinfer_baseline.json",
        f"tests/references/test_{name}.py",
    ]
    assert "status:verified" in json.loads(bundle.files[f"definitions/rmsnorm/{name}.json"])["tags"]
    assert json.loads(bundle.files[f"solutions/baseline/rmsnorm/{name}/{name}_flashinfer_baseline.json"])["name"] == f"{name}_flashinfer_baseline"
    (held,) = plan.held_back
    assert held.name == bad["name"] and held.reason.startswith("not verified in this run") and "output" in held.reason, "a status:verified tag alone does not pass the gate"

    drafts = plan_bundles(tmp_path, outcomes, candidates, tmp_path / "candidates", verdicts, make_test, PlanOptions(allow_unverified=True))
    draft = next(p for p in drafts.bundles if p.bundle.definitions == [bad["name"]])
    assert draft.status == "draft" and not draft.bundle.verified and draft.bundle.unverified_reasons[0].startswith(bad["name"])
    assert not any(p.startswith("solutions/") for p in draft.bundle.files), "no baseline solution without a verified comparison"


def test_one_definition_new_for_two_models_is_one_candidate_with_both_tags_and_per_model_groups(tmp_path):
    def for_model(definition: dict, slug: str) -> dict:
        return {**definition, "tags": [t if not t.startswith("model:") else f"model:{slug}" for t in definition["tags"]]}

    norm, gemm = for_model(build("rmsnorm", hidden_size=64), "model-a"), for_model(build("gemm", N=32, K=64), "model-a")
    outcomes = [outcome(tmp_path, "model-a", [norm, gemm]), outcome(tmp_path, "model-b", [for_model(norm, "model-b")])]
    candidates, verdicts = verified_in_this_run(tmp_path, outcomes, {norm["name"]: norm["reference"], gemm["name"]: gemm["reference"]})
    assert candidates[norm["name"]].models == ["model-a", "model-b"]
    assert {"model:model-a", "model:model-b"} <= set(candidates[norm["name"]].definition["tags"])
    plan = plan_bundles(tmp_path, outcomes, candidates, tmp_path / "candidates", verdicts, make_test, PlanOptions(group="per-model"))
    (bundle,) = [p.bundle for p in plan.bundles]
    assert bundle.id == "model:model-a" and bundle.definitions == sorted([norm["name"], gemm["name"]]) and bundle.models == ["model-a", "model-b"]


def test_the_same_name_with_two_signatures_from_two_models_is_held_back(tmp_path):
    norm = build("rmsnorm", hidden_size=64)
    changed = json.loads(json.dumps(norm))
    changed["inputs"]["weight"]["dtype"] = "float32"
    outcomes = [outcome(tmp_path, "model-a", [norm]), outcome(tmp_path, "model-b", [changed])]
    candidates = merge_candidates(outcomes)
    plan = plan_bundles(tmp_path, outcomes, candidates, tmp_path / "candidates", {}, make_test, PlanOptions(allow_unverified=True))
    assert plan.bundles == [] and "different signatures" in plan.held_back[0].reason


def test_a_shared_definition_may_only_gain_model_tp_and_ep_tags():
    original = {"name": "x", "tags": ["status:verified", "model:a", "fi_api:f"], "axes": {}}
    assert tag_change_problem(original, {**original, "tags": original["tags"] + ["model:b", "tp:1"]}) is None
    assert tag_change_problem(original, {**original, "tags": ["status:verified", "model:a", "model:b", "fi_api:f"]}) is None
    assert "reordered" in tag_change_problem(original, {**original, "tags": sorted(original["tags"] + ["model:b"])})
    assert "sglang:0.5.23" in tag_change_problem(original, {**original, "tags": original["tags"] + ["model:b", "sglang:0.5.23"]})
    assert tag_change_problem(original, {**original, "description": "new", "tags": original["tags"] + ["model:b"]}) == "fields other than tags changed"
    assert tag_change_problem(original, {"tags": original["tags"], "name": "x", "axes": {}}) == "fields other than tags changed", "key order is part of the file"
