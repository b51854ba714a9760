"""The status:verified gate: what each verdict may write into a dataset.

Verified definitions become status:verified and get a baseline solution. A failed one goes
(back) to unverified only where that overrides nobody: no status, already unverified, or
the status agent verify itself last wrote (its log says so); a status someone else wrote
is kept and the run reports the disagreement. Unverifiable definitions are not touched.

The trusted side here is the template reference, compared on the CPU by the same
sandboxed comparison a GPU run makes against FlashInfer.
"""

import json

import pytest

from tests.tools.verification.definitions import build
from tools.dedup_store import DefinitionStore
from tools.verification.environment import Environment
from tools.verification.gate import run_verification, status_after
from tools.verification.inputs import default_cases
from tools.verification.run_log import write_run
from tools.verification.verify import compare_references, unverifiable

GPU = Environment(device="gpu", gpu_name="test GPU", compute_capability="9.0", torch="2.11.0", flashinfer="0.7.2.post1", python="3.12", platform="linux")


def stored(store: DefinitionStore, name: str) -> dict:
    return json.loads(store.path_for(store.get(name)).read_text())


def against(trusted: dict[str, str]):
    """Compare each definition's reference with the trusted reference of the same name."""

    def compare(definitions):
        return {
            d["name"]: compare_references(d, trusted[d["name"]], {"reference": d["reference"]}, cases=default_cases(d, "check"))["reference"]
            for d in definitions
        }

    return compare


def broken(definition: dict) -> dict:
    return dict(definition, reference=definition["reference"].replace("+ residual.to(torch.float32)", ""))


def test_only_agreeing_definitions_become_verified_and_get_a_baseline_solution(tmp_path):
    store = DefinitionStore(tmp_path)
    good, bad = build("rmsnorm", hidden_size=64), build("fused_add_rmsnorm", hidden_size=64)
    trusted = {good["name"]: good["reference"], bad["name"]: bad["reference"]}
    escaping = build("rmsnorm", hidden_size=128)
    escaping["reference"] = "import os\n" + escaping["reference"]
    for definition in (good, broken(bad), escaping):
        store.commit(definition)

    def compare(definitions):
        assert escaping["name"] not in {d["name"] for d in definitions}, "a reference failing the static check must not run"
        return against(trusted)(definitions)

    outcome = run_verification(store, [stored(store, n) for n in (good["name"], bad["name"], escaping["name"])], GPU, compare=compare)

    assert "status:verified" in stored(store, good["name"])["tags"]
    assert "status:unverified" in stored(store, bad["name"])["tags"]
    solutions = sorted(p.relative_to(tmp_path / "solutions").as_posix() for p in (tmp_path / "solutions").rglob("*.json"))
    assert solutions == [f"baseline/{good['op_type']}/{good['name']}/{good['name']}_flashinfer_baseline.json"]
    by_name = {r.name: r for r in outcome.results}
    assert by_name[good["name"]].verdict == "verified" and by_name[good["name"]].baseline_solution
    assert by_name[bad["name"]].verdict == "failed" and "output 'output'" in by_name[bad["name"]].summary
    assert by_name[bad["name"]].comparison.cases[0].outputs[0].max_abs_error > 0.1
    assert by_name[escaping["name"]].verdict == "failed" and by_name[escaping["name"]].summary.startswith("static check: line 1: imports os")
    assert "status:unverified" in stored(store, escaping["name"])["tags"]
    assert outcome.mode == "flashinfer" and not outcome.all_passed


def test_a_status_agent_verify_wrote_goes_back_to_unverified_when_the_reference_breaks(tmp_path):
    store = DefinitionStore(tmp_path)
    definition = build("fused_add_rmsnorm", hidden_size=64)
    trusted = {definition["name"]: definition["reference"]}
    store.commit(definition)
    write_run(tmp_path, run_verification(store, [stored(store, definition["name"])], GPU, compare=against(trusted)))
    assert "status:verified" in stored(store, definition["name"])["tags"]

    path = store.path_for(definition)  # the reference is edited in place, as a person would
    path.write_text(path.read_text().replace("+ residual.to(torch.float32)", ""))
    store = DefinitionStore(tmp_path)
    outcome = run_verification(store, [stored(store, definition["name"])], GPU, compare=against(trusted))

    result = outcome.results[0]
    assert result.verdict == "failed" and result.status == "unverified" and result.status_before == "verified"
    assert "status:unverified" in stored(store, definition["name"])["tags"]


def test_a_status_someone_else_wrote_is_kept_and_the_disagreement_reported(tmp_path):
    store = DefinitionStore(tmp_path)
    definition = build("fused_add_rmsnorm", hidden_size=64)
    trusted = {definition["name"]: definition["reference"]}
    store.commit(broken(definition))
    store.set_status(definition["name"], "verified")  # as the official dataset marks its files
    before = store.path_for(definition).read_bytes()

    outcome = run_verification(store, [stored(store, definition["name"])], GPU, compare=against(trusted))

    result = outcome.results[0]
    assert result.verdict == "failed" and result.status is None and result.status_before == "verified"
    assert result.status_note.startswith("status:verified kept: it was not written by agent verify")
    assert store.path_for(definition).read_bytes() == before

    demoted = run_verification(DefinitionStore(tmp_path), [stored(store, definition["name"])], GPU, compare=against(trusted), demote_failed=True)
    assert demoted.results[0].status == "unverified"
    assert "status:unverified" in stored(store, definition["name"])["tags"]


def test_an_unverifiable_definition_is_left_untouched(tmp_path):
    store = DefinitionStore(tmp_path)
    definition = build("rmsnorm", hidden_size=64)
    store.commit(definition)
    before = store.path_for(definition).read_bytes()

    outcome = run_verification(store, [stored(store, definition["name"])], GPU, compare=lambda ds: {d["name"]: unverifiable(d, "no kernel for this GPU") for d in ds})

    result = outcome.results[0]
    assert result.verdict == "unverifiable" and result.status is None and result.summary == "unverifiable: no kernel for this GPU"
    assert store.path_for(definition).read_bytes() == before
    assert not (tmp_path / "solutions").exists()


@pytest.mark.parametrize(
    "verdict, before, ours, demote, written",
    [
        ("verified", "reference", None, False, "verified"),
        ("verified", None, None, False, "verified"),
        ("failed", None, None, False, "unverified"),
        ("failed", "unverified", None, False, "unverified"),
        ("failed", "verified", "verified", False, "unverified"),
        ("failed", "verified", None, False, None),
        ("failed", "reference", "unverified", False, None),
        ("failed", "reference", None, True, "unverified"),
        ("unverifiable", "verified", "verified", True, None),
    ],
)
def test_status_policy(verdict, before, ours, demote, written):
    assert status_after(verdict, before, ours, demote)[0] == written
