"""New definitions follow the dataset's conventions; official names come out as the files are.

The official signatures are the transcription in evals/ground_truth/signatures.json
(flashinfer-bench@e489a246). Every catalog model is planned at its serving profile and
built; each official name it produces must have the official signature exactly (axes
with their order, inputs and outputs with their order, shapes, dtypes, constraints),
except the files `DEPARTURES` lists, which must differ exactly as it says.
"""

import json
from pathlib import Path

import pytest

from tools.dataset_conventions import DEPARTURES, FAMILIES, TAGS, dataset_tags, family_of_name, parallel_tag_prefixes, signature_differences, signature_facts
from tools.definition_builder.builder import BuildContext, build_definition
from tools.definition_builder.families import FAMILIES as BUILDER_FAMILIES
from tools.errors import UnknownModelError
from tools.kernel_planner import PlanOptions, plan_kernels
from tools.kernel_spec import KernelSpec

REPO = Path(__file__).resolve().parents[2]
OFFICIAL = json.loads((REPO / "evals" / "ground_truth" / "signatures.json").read_text())
SNAPSHOT_COMMIT = "@e489a246:"
CONTEXT = BuildContext(model_slug="test")


@pytest.fixture(scope="module")
def catalog_definitions(parse, catalog):
    """Official name -> (model, built definition), for every catalog model SGLang serves."""
    produced: dict[str, tuple[str, dict]] = {}
    for entry in catalog.models:
        for tp in entry.tp:
            for ep in (e for e in entry.ep if tp % e == 0):
                try:
                    inventory = parse(entry.slug, tp=tp, ep=ep)
                except UnknownModelError:  # an architecture this SGLang release has no class for
                    continue
                for spec in plan_kernels(inventory, PlanOptions(page_sizes=entry.page_sizes)).specs:
                    definition = build_definition(spec, CONTEXT)
                    if definition["name"] in OFFICIAL:
                        produced.setdefault(definition["name"], (entry.slug, definition))
    return produced


def test_every_official_name_the_catalog_produces_has_the_official_signature(catalog_definitions):
    assert len(catalog_definitions) > 100
    wrong = {}
    for name, (model, definition) in sorted(catalog_definitions.items()):
        departure = DEPARTURES.get(name)
        expected = list(departure.differences) if departure else []
        got = signature_differences(signature_facts(definition), OFFICIAL[name])
        if got != expected:
            wrong[f"{name} ({model})"] = got
    assert wrong == {}


def test_departures_are_official_files_of_families_the_catalog_produces(catalog_definitions):
    for name, departure in DEPARTURES.items():
        assert name in OFFICIAL and SNAPSHOT_COMMIT in OFFICIAL[name]["source"], name
        assert family_of_name(name) is not None, name
    produced = set(catalog_definitions)
    signature_departures = {name for name, d in DEPARTURES.items() if d.kind != "other_math"}
    # All but one (qwen3-235b at TP=4, not in its catalog profile) are produced by the catalog.
    assert signature_departures - produced == {"gqa_paged_prefill_causal_h16_kv1_d128_ps64"}
    # Where the dataset's math is not what the model runs, the catalog writes the other name.
    other_math = {name: d.written_instead for name, d in DEPARTURES.items() if d.kind == "other_math"}
    assert other_math and not set(other_math) & produced


# ------------------------------------------------------------------ new names

def facts(definition):
    return signature_facts(definition)


def test_a_new_gemm_shape_is_n_by_k_float16():
    d = build_definition(KernelSpec(family="gemm", axes={"N": 1000, "K": 640}), CONTEXT)
    assert d["name"] == "gemm_n1000_k640"
    assert facts(d) == {
        "op_type": "gemm",
        "axes": {"M": "var", "N": 1000, "K": 640},
        "inputs": {"A": {"shape": ["M", "K"], "dtype": "float16"}, "B": {"shape": ["N", "K"], "dtype": "float16"}},
        "outputs": {"C": {"shape": ["M", "N"], "dtype": "float16"}},
        "constraints": [],
    }


def test_a_new_page_64_prefill_takes_the_last_page_length_per_sequence():
    axes = {"num_qo_heads": 12, "num_kv_heads": 3, "head_dim": 64, "page_size": 64}
    d = build_definition(KernelSpec(family="gqa_paged_prefill", axes=axes, stage="prefill", tp=2), CONTEXT)
    assert d["name"] == "gqa_paged_prefill_causal_h12_kv3_d64_ps64"
    got = facts(d)
    assert list(got["axes"]) == ["num_qo_heads", "num_kv_heads", "head_dim", "page_size", "len_indptr", "total_q", "num_kv_indices", "num_pages", "batch_size"]
    assert list(got["inputs"]) == ["q", "k_cache", "v_cache", "qo_indptr", "kv_indptr", "kv_indices", "kv_last_page_len", "sm_scale"]
    assert got["inputs"]["kv_last_page_len"] == {"shape": ["batch_size"], "dtype": "int32"}
    assert got["constraints"] == ["total_q == qo_indptr[-1].item()", "num_kv_indices == kv_indptr[-1].item()"]
    # Page size 1: no last page length and no batch_size axis.
    one = facts(build_definition(KernelSpec(family="gqa_paged_prefill", axes={**axes, "page_size": 1}, stage="prefill", tp=2), CONTEXT))
    assert "kv_last_page_len" not in one["inputs"] and "batch_size" not in one["axes"]


def test_a_new_page_64_decode_takes_the_last_page_length_after_the_indices():
    axes = {"num_qo_heads": 12, "num_kv_heads": 3, "head_dim": 64, "page_size": 64}
    got = facts(build_definition(KernelSpec(family="gqa_paged_decode", axes=axes, stage="decode", tp=2), CONTEXT))
    assert list(got["inputs"]) == ["q", "k_cache", "v_cache", "kv_indptr", "kv_indices", "kv_last_page_len", "sm_scale"]
    assert got["inputs"]["kv_last_page_len"] == {"shape": ["batch_size"], "dtype": "int32"}
    mla = facts(build_definition(KernelSpec(family="mla_paged_prefill", axes={"num_qo_heads": 32, "head_dim_ckv": 512, "head_dim_kpe": 64, "page_size": 64}), CONTEXT))
    assert list(mla["axes"])[-1] == "batch_size" and mla["inputs"]["kv_last_page_len"]["shape"] == ["batch_size"]


MOE_SIZES = {"hidden_size": 2048, "intermediate_size": 512}
EXPERT_TENSORS = ["hidden_states", "hidden_states_scale", "gemm1_weights", "gemm1_weights_scale", "gemm2_weights", "gemm2_weights_scale"]
MOE_CONSTRAINTS = ["gemm1_weights.shape[1] == 2 * intermediate_size", "gemm2_weights.shape[1] == hidden_size", "gemm2_weights.shape[2] == intermediate_size"]
SIZE_AXES = ["hidden_size", "intermediate_size", "gemm1_out_size", "top_k", "num_hidden_blocks", "num_intermediate_blocks", "num_gemm1_out_blocks"]


def test_renormalize_moe_at_ep_above_1_routes_over_all_experts_from_its_offset():
    spec = KernelSpec(
        family="moe_fp8_block_scale", axes={"num_experts": 512, "top_k": 10, "num_local_experts": 128, **MOE_SIZES}, options={"routing": "renormalize"}, ep=4
    )
    got = facts(build_definition(spec, CONTEXT))
    assert list(got["axes"]) == ["seq_len", "num_experts", "num_local_experts", *SIZE_AXES]
    assert got["axes"]["num_experts"] == 512 and got["axes"]["top_k"] == 10
    assert list(got["inputs"]) == ["routing_logits", *EXPERT_TENSORS, "local_expert_offset"]
    assert got["inputs"]["routing_logits"] == {"shape": ["seq_len", "num_experts"], "dtype": "bfloat16"}
    assert got["inputs"]["local_expert_offset"] == {"shape": None, "dtype": "int32"}
    assert got["constraints"] == MOE_CONSTRAINTS


def test_renormalize_moe_at_ep_1_is_the_datasets_local_form():
    spec = KernelSpec(family="moe_fp8_block_scale", axes={"num_experts": 64, "top_k": 4, "num_local_experts": 64, **MOE_SIZES}, options={"routing": "renormalize"}, ep=1)
    got = facts(build_definition(spec, CONTEXT))
    assert list(got["axes"]) == ["seq_len", "num_local_experts", *SIZE_AXES]
    assert list(got["inputs"]) == ["routing_logits", *EXPERT_TENSORS]
    assert got["inputs"]["routing_logits"]["shape"] == ["seq_len", "num_local_experts"]


@pytest.mark.parametrize("routing", ["default", "llama4"])
def test_other_routings_take_the_renormalize_form(routing):
    spec = KernelSpec(family="moe_fp8_block_scale", axes={"num_experts": 16, "top_k": 1, "num_local_experts": 16, **MOE_SIZES}, options={"routing": routing}, ep=1)
    d = build_definition(spec, CONTEXT)
    assert list(facts(d)["inputs"]) == ["routing_logits", *EXPERT_TENSORS]
    assert "top_k=1" in d["description"]


def test_deepseek_routing_bakes_its_groups_into_the_reference_not_the_inputs():
    spec = KernelSpec(
        family="moe_fp8_block_scale",
        axes={"num_experts": 64, "top_k": 6, "n_group": 8, "topk_group": 3, "num_local_experts": 16, **MOE_SIZES},
        options={"routing": "deepseek_v3", "routed_scaling_factor": 1.0},
        ep=4,
    )
    d = build_definition(spec, CONTEXT)
    assert d["name"] == "moe_fp8_block_scale_ds_routing_topk6_ng8_kg3_e16_h2048_i512"
    got = facts(d)
    assert list(got["axes"]) == ["seq_len", "num_experts", "num_local_experts", *SIZE_AXES]
    assert list(got["inputs"]) == ["routing_logits", "routing_bias", *EXPERT_TENSORS, "local_expert_offset", "routed_scaling_factor"]
    assert got["inputs"]["routing_logits"]["dtype"] == "float32"
    assert "N_GROUP = 8\nTOPK_GROUP = 3" in d["reference"]


def test_gdn_mtp_takes_scale_and_the_intermediate_state_buffer_last():
    got = facts(build_definition(KernelSpec(family="gdn_mtp", axes={"num_q_heads": 2, "num_v_heads": 6, "head_size": 64}), CONTEXT))
    assert list(got["inputs"])[-2:] == ["scale", "intermediate_states_buffer"]
    assert got["inputs"]["intermediate_states_buffer"] == {"shape": ["pool_size", "seq_len", "num_v_heads", "head_size", "head_size"], "dtype": "float32"}


# ------------------------------------------------------------------ the written conventions

def test_every_builder_family_has_its_convention_written_down():
    assert set(FAMILIES) == set(BUILDER_FAMILIES)
    for convention in FAMILIES.values():
        assert convention.source and convention.signature, convention.family
        assert convention.op_type in TAGS, f"{convention.family}: no parallel-tag convention for op type {convention.op_type}"


def test_each_official_name_maps_to_the_family_whose_op_type_it_has():
    for name, official in OFFICIAL.items():
        family = family_of_name(name)
        if family is not None:
            assert family.op_type == official["op_type"], name


def test_official_tags_follow_the_written_tag_conventions():
    """The files' stage, descriptive and fi_api tags are the convention's (a few files spell
    fi_api otherwise: counted, at most one per family)."""
    misspelled = []
    for name, official in OFFICIAL.items():
        family = family_of_name(name)
        if family is None or not official.get("tags") or SNAPSHOT_COMMIT not in official["source"]:
            continue
        tags = official["tags"]
        assert [t for t in tags if t.startswith("stage:")] == ([f"stage:{family.stage}"] if family.stage else []), name
        assert [t for t in tags if t in family.descriptive] == list(family.descriptive), name
        fi_api = [t for t in tags if t.startswith("fi_api:")]
        if fi_api != ([f"fi_api:{family.fi_api}"] if family.fi_api else []):
            misspelled.append((name, fi_api))
        prefixes = parallel_tag_prefixes(official["op_type"], name)
        assert {t.split(":")[0] + ":" for t in tags if t.startswith(("tp:", "ep:"))} <= set(prefixes), name
    # gqa_paged_prefill_causal_h32_kv4_d128_ps1 spells it flashinfer.BatchPrefillWithPagedKVCacheWrapper.
    assert misspelled == [("gqa_paged_prefill_causal_h32_kv4_d128_ps1", ["fi_api:flashinfer.BatchPrefillWithPagedKVCacheWrapper"])]


def test_dataset_tags_order_and_parallel_tags():
    tags = dataset_tags(op_type="moe", name="moe_fp8_block_scale_x", model_slug="m", descriptive=("quantization:float8_e4m3fn",), fi_api="f", tps=[8, 4], ep=2)
    assert tags == ["status:unverified", "model:m", "quantization:float8_e4m3fn", "fi_api:f", "ep:2", "tp:4", "tp:8"]
    assert dataset_tags(op_type="rmsnorm", name="rmsnorm_h8", model_slug="m", tps=[2], ep=1) == ["status:unverified", "model:m"]
    assert parallel_tag_prefixes("dsa_paged", "dsa_topk_indexer_fp8_h64_d128_topk2048_ps64") == ()
    assert parallel_tag_prefixes("dsa_paged", "dsa_sparse_attention_h16_ckv512_kpe64_topk2048_ps1") == ("tp:",)


def test_signature_differences_see_order_and_shapes():
    a = {"op_type": "x", "axes": {"m": "var", "n": 4}, "inputs": {"p": {"shape": ["m"], "dtype": "int32"}, "q": {"shape": None, "dtype": "float32"}}, "outputs": {}, "constraints": []}
    b = {**a, "axes": {"n": 4, "m": "var"}, "inputs": {"q": {"shape": None, "dtype": "float32"}, "p": {"shape": ["n"], "dtype": "int32"}}}
    assert signature_differences(a, a) == []
    assert signature_differences(a, b) == [
        "axis order ['m', 'n'] (official ['n', 'm'])",
        "input p shape ['m'] (official ['n'])",
        "input order ['p', 'q'] (official ['q', 'p'])",
    ]
