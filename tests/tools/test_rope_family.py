"""The rope definition: the dataset's schema, a reference checked by hand on the CPU, and
FlashInfer's own trace template for the same API as the second opinion."""

import ast
import json

import pytest
import torch
from flashinfer_bench.data import Definition

from tools.definition_builder.builder import BuildContext, build_definition
from tools.errors import DefinitionError
from tools.kernel_spec import KernelSpec
from tools.verification.inputs import default_cases, make_inputs
from tools.verification.reference_check import check_references
from tools.verification.worker import load_reference

CONTEXT = BuildContext(model_slug="minimax-m2")
API = "flashinfer.rope.apply_rope_with_cos_sin_cache_inplace"


def rope(head_size, rotary_dim, is_neox=True):
    return build_definition(KernelSpec(family="rope_with_cos_sin_cache", axes={"head_size": head_size, "rotary_dim": rotary_dim}, options={"is_neox": is_neox}), CONTEXT)


def test_minimax_m2_rope_has_the_dataset_signature_and_loads_from_disk(tmp_path):
    d = rope(128, 64)
    # flashinfer-bench's rope_with_cos_sin_cache_neox_style_d128_rd64: these axes, inputs and outputs.
    assert d["name"] == "rope_with_cos_sin_cache_neox_style_d128_rd64" and d["op_type"] == "rope"
    assert {a: (s["type"], s.get("value")) for a, s in d["axes"].items()} == {
        "num_tokens": ("var", None), "num_qo_heads": ("var", None), "num_kv_heads": ("var", None),
        "head_size": ("const", 128), "rotary_dim": ("const", 64), "max_seq_len": ("var", None),
    }
    assert {n: (s["shape"], s["dtype"]) for n, s in d["inputs"].items()} == {
        "q": (["num_tokens", "num_qo_heads", "head_size"], "bfloat16"),
        "k": (["num_tokens", "num_kv_heads", "head_size"], "bfloat16"),
        "cos_sin_cache": (["max_seq_len", "rotary_dim"], "float32"),
        "positions": (["num_tokens"], "int64"),
    }
    assert {n: (s["shape"], s["dtype"]) for n, s in d["outputs"].items()} == {
        "q_out": (["num_tokens", "num_qo_heads", "head_size"], "bfloat16"),
        "k_out": (["num_tokens", "num_kv_heads", "head_size"], "bfloat16"),
    }
    assert f"fi_api:{API}" in d["tags"] and {"model:minimax-m2", "status:unverified"} <= set(d["tags"])
    run = next(n for n in ast.parse(d["reference"]).body if isinstance(n, ast.FunctionDef))
    assert run.name == "run" and [a.arg for a in run.args.args] == list(d["inputs"])
    path = tmp_path / "rope" / f"{d['name']}.json"
    path.parent.mkdir()
    path.write_text(json.dumps(d, indent=2))
    loaded = Definition.model_validate_json(path.read_text())
    assert loaded.name == d["name"] and loaded.const_axes == {"head_size": 128, "rotary_dim": 64}


@pytest.mark.parametrize("is_neox, name", [(True, "rope_with_cos_sin_cache_neox_style_d64_rd64"), (False, "rope_with_cos_sin_cache_gptj_style_d64_rd64")])
def test_the_style_is_part_of_the_name(is_neox, name):
    assert rope(64, 64, is_neox)["name"] == name


@pytest.mark.parametrize("rotary_dim", [0, 3, 130])
def test_a_rotary_dim_the_kernel_cannot_run_is_refused(rotary_dim):
    with pytest.raises(DefinitionError, match="rotary_dim"):
        rope(128, rotary_dim)


def one_token(head):
    """q and k of one token, one head, the given channel values (bf16 holds them exactly)."""
    x = torch.tensor([[head]], dtype=torch.bfloat16)
    return x, x.clone()


# By hand: a pair (a, b) turned by angle t becomes (a cos t - b sin t, b cos t + a sin t).
# Position 1's row is (cos, sin) = ([0, 1], [1, 0]): the first pair turns 90 degrees, the second 0.
CACHE = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]])
PARTIAL_CACHE = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # rotary_dim 2: one pair, 90 degrees at position 1


@pytest.mark.parametrize(
    "head_size, rotary_dim, is_neox, cache, expected",
    [
        # NeoX pairs channel i with i + 2: (1, 3) turns 90 degrees -> (-3, 1); (2, 4) stays.
        (4, 4, True, CACHE, [-3.0, 2.0, 1.0, 4.0]),
        # GPT-J pairs channel 2i with 2i + 1: (1, 2) turns 90 degrees -> (-2, 1); (3, 4) stays.
        (4, 4, False, CACHE, [-2.0, 1.0, 3.0, 4.0]),
        # Partial: channels 0-1 rotate as one pair -> (-2, 1); channels 2-3 pass unchanged.
        (4, 2, True, PARTIAL_CACHE, [-2.0, 1.0, 3.0, 4.0]),
    ],
)
def test_the_reference_on_a_hand_computed_example(head_size, rotary_dim, is_neox, cache, expected):
    run = load_reference(rope(head_size, rotary_dim, is_neox)["reference"], "rope")
    q, k = one_token([1.0, 2.0, 3.0, 4.0])
    for position, want in ((0, [1.0, 2.0, 3.0, 4.0]), (1, expected)):
        q_out, k_out = run(q, k, cache, torch.tensor([position]))
        assert q_out.dtype == torch.bfloat16 and q_out.tolist() == [[want]] and k_out.tolist() == [[want]]
    assert q.tolist() == [[[1.0, 2.0, 3.0, 4.0]]]  # the inputs are left alone


@pytest.mark.parametrize("head_size, rotary_dim, is_neox", [(128, 64, True), (64, 64, False), (128, 128, True), (256, 64, True)])
def test_the_reference_agrees_with_flashinfers_template_reference(head_size, rotary_dim, is_neox):
    from flashinfer.trace.templates.rope import apply_rope_with_cos_sin_cache_inplace_trace as template

    d = rope(head_size, rotary_dim, is_neox)
    run = load_reference(d["reference"], d["name"])
    for case in default_cases(d, "check"):
        q, k, cache, positions = make_inputs(d, case, seed=7)
        tokens = q.shape[0]
        want_q, want_k = template.reference(positions, q.reshape(tokens, -1), k.reshape(tokens, -1), head_size, cache, is_neox=is_neox)
        got_q, got_k = run(q, k, cache, positions)
        torch.testing.assert_close(got_q.reshape(tokens, -1), want_q, rtol=0, atol=0)
        torch.testing.assert_close(got_k.reshape(tokens, -1), want_k, rtol=0, atol=0)


def test_the_template_traces_the_same_api_and_constants():
    import flashinfer

    def meta(*shape, dtype=torch.bfloat16):
        return torch.empty(*shape, dtype=dtype, device="meta")

    traced = flashinfer.rope.apply_rope_with_cos_sin_cache_inplace.fi_trace(
        positions=meta(7, dtype=torch.int64), query=meta(7, 6 * 128), key=meta(7, 128), head_size=128, cos_sin_cache=meta(11, 64, dtype=torch.float32)
    )
    d = rope(128, 64)
    assert f"fi_api:{API}" in traced["tags"] and f"fi_api:{API}" in d["tags"]
    for axis in ("head_size", "rotary_dim"):
        assert traced["axes"][axis]["value"] == d["axes"][axis]["value"]
    assert traced["inputs"]["cos_sin_cache"]["dtype"] == d["inputs"]["cos_sin_cache"]["dtype"] == "float32"


def test_the_cpu_reference_check_passes_in_the_sandbox():
    definitions = [rope(128, 64), rope(64, 64, is_neox=False)]
    reports = check_references(definitions)
    for d in definitions:
        assert reports[d["name"]].passed, reports[d["name"]]
