"""The status:verified gate: only definitions whose reference agrees are marked verified
and get a baseline solution; the others are (or go back to) unverified.

The trusted side here is the template reference, compared on the CPU by the same
sandboxed comparison a GPU run makes against FlashInfer.
"""

import json

from tests.tools.verification.definitions import build
from tools.dedup_store import DefinitionStore
from tools.verification.environment import Environment
from tools.verification.gate import run_verification
from tools.verification.inputs import default_cases
from tools.verification.verify import compare_references

GPU = Environment(device="gpu", gpu_name="test GPU", torch="2.11.0", flashinfer="0.7.2.post1", python="3.12", platform="linux")


def stored(store: DefinitionStore, name: str) -> dict:
    return json.loads(store.path_for(store.get(name)).read_text())


def test_only_agreeing_definitions_become_verified_and_get_a_baseline_solution(tmp_path):
    store = DefinitionStore(tmp_path)
    good, bad = build("rmsnorm", hidden_size=64), build("fused_add_rmsnorm", hidden_size=64)
    trusted = {good["name"]: good["reference"], bad["name"]: bad["reference"]}
    bad = dict(bad, reference=bad["reference"].replace("+ residual.to(torch.float32)", ""))
    escaping = build("rmsnorm", hidden_size=128)
    escaping["reference"] = "import os\n" + escaping["reference"]
    for definition in (good, bad, escaping):
        store.commit(definition)
    store.set_status(bad["name"], "verified")  # verified once; its reference has since been broken

    def against_templates(definitions):
        assert escaping["name"] not in {d["name"] for d in definitions}, "a reference failing the static check must not run"
        return {
            d["name"]: compare_references(d, trusted[d["name"]], {"reference": d["reference"]}, cases=default_cases(d, "check"))["reference"]
            for d in definitions
        }

    outcome = run_verification(store, [stored(store, n) for n in (good["name"], bad["name"], escaping["name"])], GPU, compare=against_templates)

    assert "status:verified" in stored(store, good["name"])["tags"]
    assert "status:unverified" in stored(store, bad["name"])["tags"]
    assert not any(t == "status:verified" for t in stored(store, bad["name"])["tags"])
    solutions = sorted(p.relative_to(tmp_path / "solutions").as_posix() for p in (tmp_path / "solutions").rglob("*.json"))
    assert solutions == [f"baseline/{good['op_type']}/{good['name']}/{good['name']}_flashinfer_baseline.json"]
    by_name = {r.name: r for r in outcome.results}
    assert by_name[good["name"]].passed and by_name[good["name"]].baseline_solution
    assert not by_name[bad["name"]].passed and "output 'output'" in by_name[bad["name"]].summary
    assert by_name[bad["name"]].comparison.cases[0].outputs[0].max_abs_error > 0.1
    assert by_name[escaping["name"]].summary.startswith("static check: line 1: imports os")
    assert "status:unverified" in stored(store, escaping["name"])["tags"]
    assert outcome.mode == "flashinfer" and not outcome.all_passed
