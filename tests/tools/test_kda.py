"""Kimi Delta Attention: FlashInfer's KDA templates completed with SGLang's call, written
as JSON and loaded by flashinfer-bench; the reference on small CPU inputs, against a
recurrence written here (state as [K, V], the transpose of the reference's layout)."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from flashinfer_bench.data import Definition

from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_spec import KernelSpec
from tools.verification.inputs import Case, default_cases, make_inputs
from tools.verification.worker import load_reference

CONTEXT = BuildContext(model_slug="kimi-linear-48b-a3b")
KIMI_TP4 = {"num_q_heads": 8, "num_v_heads": 8, "head_dim": 128}
GVA = {"num_q_heads": 2, "num_v_heads": 4, "head_dim": 64}


def build(stage: str, axes: dict) -> dict:
    return build_definition(KernelSpec(family=f"kda_{stage}", axes=axes, stage=stage, tp=4), CONTEXT)


def prepared(stage: str, axes: dict, case: Case, seed: int = 0):
    definition = build(stage, axes)
    run = load_reference(definition["reference"], definition["name"])
    return run, dict(zip(definition["inputs"], make_inputs(definition, case, seed=seed)))


def close(actual, expected, tol=2e-2):
    torch.testing.assert_close(actual.float(), expected.float(), rtol=tol, atol=tol)


def step(state_kv, q, k, v, raw_gate, beta, a_log, dt_bias, scale):
    """One KDA token for one value head, state [K, V]: decay each key row, apply the
    delta rule with unit-norm q and k, read out with the scaled query."""
    q, k = q / q.norm(), k / k.norm()
    alpha = torch.exp(-math.exp(a_log) * F.softplus(raw_gate + dt_bias))  # [K]
    state = alpha[:, None] * state_kv
    state = state + torch.outer(k, beta * (v - state.T @ k))
    return scale * (state.T @ q), state


@pytest.mark.parametrize("stage, api", [("prefill", "flashinfer.kda.recurrent_kda"), ("decode", "flashinfer.kda_decode.recurrent_kda")])
def test_definition_is_written_as_json_flashinfer_bench_loads(stage, api, tmp_path):
    definition = build(stage, KIMI_TP4)
    path = tmp_path / definition["op_type"] / f"{definition['name']}.json"
    path.parent.mkdir()
    path.write_text(json.dumps(definition, indent=2))
    loaded = Definition.model_validate_json(path.read_text())
    assert loaded.name == f"kda_{stage}_qk8_v8_d128_k_last" and loaded.op_type == "kda"
    tags = set(definition["tags"])
    assert {f"fi_api:{api}", f"stage:{stage}", "tp:4", "model:kimi-linear-48b-a3b", "status:unverified"} <= tags
    assert len([t for t in tags if t.startswith("stage:")]) == 1  # the prefill facade advertises both stages
    head = ["q", "k", "v", "g", "beta", "A_log", "dt_bias", "scale", "initial_state"]
    assert list(definition["inputs"]) == head + (["cu_seqlens", "ssm_state_indices"] if stage == "prefill" else ["ssm_state_indices"])
    assert list(definition["outputs"]) == ["output", "final_state"]
    inputs = definition["inputs"]
    assert inputs["A_log"]["shape"] == ["num_q_heads"] and inputs["dt_bias"]["shape"] == ["num_q_heads", "head_dim"]
    assert inputs["initial_state"] == {**inputs["initial_state"], "shape": ["state_pool_size", "num_v_heads", "head_dim", "head_dim"], "dtype": "bfloat16"}
    assert definition["outputs"]["final_state"]["dtype"] == "bfloat16"
    assert not any("checkpoint" in axis for axis in definition["axes"]) and not any("checkpoint" in c for c in definition["constraints"])
    assert {a: definition["axes"][a]["value"] for a in KIMI_TP4} == KIMI_TP4
    if stage == "decode":
        assert definition["axes"]["seq_len"] == {**definition["axes"]["seq_len"], "type": "const", "value": 1}


def test_decode_from_a_zero_state_writes_beta_v_k_and_reads_it_with_q():
    # From S = 0 one token leaves S = beta * outer(v, k^) and outputs scale * beta * (q^ . k^) * v,
    # whatever the gate: decay has nothing to act on.
    run, x = prepared("decode", GVA, Case(label="d", batch_size=3))
    x["initial_state"].zero_()
    out, final_state = run(**x)
    ratio = GVA["num_v_heads"] // GVA["num_q_heads"]
    for b in range(3):
        slot = int(x["ssm_state_indices"][b])
        for h in range(GVA["num_v_heads"]):
            q, k = x["q"][b, 0, h // ratio].float(), x["k"][b, 0, h // ratio].float()
            v, beta = x["v"][b, 0, h].float(), x["beta"][b, 0, h].float()
            cos = (q @ k) / (q.norm() * k.norm())
            close(out[b, 0, h], x["scale"] * beta * cos * v)
            close(final_state[slot, h], beta * torch.outer(v, k / k.norm()), tol=1e-2)


def test_decode_with_beta_zero_only_decays_the_state_per_key_channel():
    run, x = prepared("decode", GVA, Case(label="d", batch_size=2), seed=1)
    x["beta"].zero_()
    _, final_state = run(**x)
    ratio = GVA["num_v_heads"] // GVA["num_q_heads"]
    for b in range(2):
        slot = int(x["ssm_state_indices"][b])
        for h in range(GVA["num_v_heads"]):
            rate = math.exp(float(x["A_log"][h // ratio]))
            alpha = torch.exp(-rate * F.softplus(x["g"][b, 0, h].float() + x["dt_bias"][h // ratio]))
            close(final_state[slot, h], x["initial_state"][slot, h].float() * alpha[None, :], tol=1e-2)


def test_prefill_runs_the_recurrence_over_each_sequence_from_its_slot():
    case = Case(label="p", batch_size=3, q_lens=[4, 1, 3])
    run, x = prepared("prefill", GVA, case, seed=2)
    out, final_state = run(**x)
    ratio = GVA["num_v_heads"] // GVA["num_q_heads"]
    cu, slots = x["cu_seqlens"].tolist(), x["ssm_state_indices"].tolist()
    beta = torch.sigmoid(x["beta"][0].float())  # prefill passes beta as a logit
    for n, slot in enumerate(slots):
        for h in range(GVA["num_v_heads"]):
            g = h // ratio
            state = x["initial_state"][slot, h].float().T
            for t in range(cu[n], cu[n + 1]):
                o, state = step(state, x["q"][0, t, g].float(), x["k"][0, t, g].float(), x["v"][0, t, h].float(),
                                x["g"][0, t, h].float(), beta[t, h], float(x["A_log"][g]), x["dt_bias"][g], x["scale"])
                close(out[0, t, h], o)
            close(final_state[slot, h], state.T, tol=1e-2)
    untouched = [s for s in range(x["initial_state"].shape[0]) if s not in slots]
    assert untouched and torch.equal(final_state[untouched], x["initial_state"][untouched])


@pytest.mark.parametrize("stage", ["prefill", "decode"])
def test_generated_inputs_are_what_sglang_passes(stage):
    definition = build(stage, KIMI_TP4)
    for case in default_cases(definition, "verify"):
        x = dict(zip(definition["inputs"], make_inputs(definition, case, seed=4)))
        decay = torch.exp(-torch.exp(x["A_log"])[None, None, :, None] * F.softplus(x["g"].float() + x["dt_bias"]))
        assert bool(((decay > 0) & (decay < 1)).all()) and float(decay.median()) > 0.5  # gates in range, memory kept
        if stage == "decode":
            assert bool(((x["beta"] > 0) & (x["beta"] < 1)).all())
        slots = x["ssm_state_indices"].tolist()
        assert len(set(slots)) == len(slots) and all(0 <= s < x["initial_state"].shape[0] for s in slots)
