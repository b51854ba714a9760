"""Input generators: every case of every family satisfies the definition's declared shapes,
dtypes and constraints, and the layout invariants the kernels rely on."""

import pytest
import torch

from tests.tools.verification.definitions import CONTEXT, SMALL_GQA, build, mla, rope
from tools.definition_builder.builder import build_definition
from tools.kernel_spec import KernelSpec
from tools.verification.families import family_for
from tools.verification.families.rows import MAX_TOKENS, largest_batch
from tools.verification.inputs import Case, default_cases, make_inputs
from tools.verification.tensors import DTYPES

DEFINITIONS = {
    "rmsnorm": lambda: build("rmsnorm", hidden_size=64),
    "fused_add_rmsnorm": lambda: build("fused_add_rmsnorm", hidden_size=64),
    "gemm": lambda: build("gemm", N=48, K=32),
    "decode_ps1": lambda: build("gqa_paged_decode", **SMALL_GQA, page_size=1),
    "decode_ps16": lambda: build("gqa_paged_decode", **SMALL_GQA, page_size=16),
    "paged_prefill_ps1": lambda: build("gqa_paged_prefill", **SMALL_GQA, page_size=1),
    "paged_prefill_ps16": lambda: build("gqa_paged_prefill", **SMALL_GQA, page_size=16),
    "ragged_prefill": lambda: build("gqa_ragged_prefill", **SMALL_GQA),
    "mla_decode_ps64": lambda: mla("decode", page_size=64),
    "mla_prefill_ps1": lambda: mla("prefill", page_size=1),
    "top_k": lambda: build("top_k_sampling_from_probs", vocab_size=100),
    "top_p": lambda: build("top_p_sampling_from_probs", vocab_size=100),
    "top_k_top_p": lambda: build("top_k_top_p_sampling_from_probs", vocab_size=100),
    "mla_ragged": lambda: build("mla_ragged_prefill", num_qo_heads=4, qk_dim=24, vo_dim=16),
    "gemma_rmsnorm": lambda: build("gemma_rmsnorm", hidden_size=64),
    "layernorm": lambda: build("layernorm", hidden_size=64),
    "rope_neox": lambda: rope(64, 32),
    "rope_gptj": lambda: rope(64, 64, is_neox=False),
    "dsa_sparse": lambda: build("dsa_sparse_attention", num_qo_heads=4, head_dim_ckv=32, head_dim_kpe=16, topk=6, page_size=4),
    "dsa_indexer": lambda: build("dsa_topk_indexer", num_index_heads=4, index_head_dim=16, topk=5, page_size=4),
    "moe": lambda: build_definition(
        KernelSpec(family="moe_fp8_block_scale", axes={"num_experts": 8, "top_k": 2, "num_local_experts": 8, "hidden_size": 256, "intermediate_size": 128}, options={"routing": "renormalize"}),
        CONTEXT,
    ),
    "moe_ep2": lambda: build_definition(
        KernelSpec(family="moe_fp8_block_scale", axes={"num_experts": 16, "top_k": 2, "num_local_experts": 8, "hidden_size": 256, "intermediate_size": 128}, options={"routing": "renormalize"}),
        CONTEXT,
    ),
    "moe_ds": lambda: build_definition(
        KernelSpec(
            family="moe_fp8_block_scale",
            axes={"num_experts": 16, "top_k": 4, "n_group": 4, "topk_group": 2, "num_local_experts": 8, "hidden_size": 256, "intermediate_size": 128},
            options={"routing": "deepseek_v3", "routed_scaling_factor": 2.5},
        ),
        CONTEXT,
    ),
    "gdn_decode": lambda: build("gdn_decode", num_q_heads=2, num_v_heads=4, head_size=16),
    "gdn_mtp": lambda: build("gdn_mtp", num_q_heads=2, num_v_heads=4, head_size=16),
    "gdn_prefill": lambda: build("gdn_prefill", num_q_heads=2, num_v_heads=4, head_size=16),
    "kda_prefill": lambda: build("kda_prefill", num_q_heads=2, num_v_heads=4, head_dim=64),
    "kda_decode": lambda: build("kda_decode", num_q_heads=2, num_v_heads=4, head_dim=64),
}


def every_case():
    for key, make in DEFINITIONS.items():
        try:
            definition = make()
        except ImportError as error:
            # FlashInfer's GDN templates import cutlass-dsl at module level; a FlashInfer
            # installed without it (the GPU bundle) can still check every other family.
            yield pytest.param(None, None, id=key, marks=pytest.mark.skip(reason=f"{key}'s FlashInfer template cannot load: {error}"))
            continue
        for purpose in ("check", "verify"):
            for case in default_cases(definition, purpose):
                yield pytest.param(definition, case, id=f"{key}-{purpose}-{case.label}")


def generated(definition, case):
    return dict(zip(definition["inputs"], make_inputs(definition, case, seed=3)))


@pytest.mark.parametrize("definition, case", list(every_case()))
def test_inputs_have_declared_shapes_dtypes_and_satisfy_the_constraints(definition, case):
    values = generated(definition, case)
    sizes: dict[str, int] = {}
    for name, spec in definition["inputs"].items():
        value = values[name]
        if spec["shape"] is None:
            assert isinstance(value, (int, float)), name
            continue
        assert value.dtype == DTYPES[spec["dtype"]], name
        assert value.dim() == len(spec["shape"]), name
        for axis, size in zip(spec["shape"], value.shape):
            axis_spec = definition["axes"][axis]
            if axis_spec["type"] == "const":
                assert size == axis_spec["value"], (name, axis)
            else:
                assert sizes.setdefault(axis, size) == size, f"runtime axis {axis} has two sizes"
    constants = {axis: spec["value"] for axis, spec in definition["axes"].items() if spec["type"] == "const"}
    for constraint in definition.get("constraints", []):
        assert eval(constraint, {}, {**values, **constants, **sizes}), constraint  # noqa: S307 - the definition's own expression


def _paged_cases():
    for key in ("decode_ps1", "decode_ps16", "paged_prefill_ps1", "paged_prefill_ps16", "mla_decode_ps64", "mla_prefill_ps1"):
        definition = DEFINITIONS[key]()
        for case in default_cases(definition, "verify"):
            yield pytest.param(definition, case, id=f"{key}-{case.label}")


@pytest.mark.parametrize("definition, case", list(_paged_cases()))
def test_paged_layouts_give_each_sequence_its_kv_length_in_distinct_pages(definition, case):
    values = generated(definition, case)
    page = definition["axes"]["page_size"]["value"]
    indptr, indices = values["kv_indptr"], values["kv_indices"]
    cache = values.get("k_cache", values.get("ckv_cache"))
    assert indptr[0].item() == 0 and indptr[-1].item() == indices.numel()
    assert bool((torch.diff(indptr) >= 0).all())
    assert len(set(indices.tolist())) == indices.numel()
    assert 0 <= indices.min().item() and indices.max().item() < cache.shape[0]
    pages = torch.diff(indptr)
    if "kv_last_page_len" in values:  # full pages, then the last page's tokens
        last = values["kv_last_page_len"]
        assert bool(((1 <= last) & (last <= page)).all())
        assert ((pages - 1) * page + last).tolist() == case.kv_lens
    else:
        assert (pages * page).tolist() == case.kv_lens
    if "qo_indptr" in values:
        q_lens = torch.diff(values["qo_indptr"]).tolist()
        assert q_lens == case.q_lens
        assert all(q <= kv for q, kv in zip(q_lens, case.kv_lens))


@pytest.mark.parametrize("key", ["decode_ps16", "paged_prefill_ps16", "mla_decode_ps64"])
def test_paged_cases_cover_a_single_page_page_boundaries_and_partial_last_pages(key):
    definition = DEFINITIONS[key]()
    page = definition["axes"]["page_size"]["value"]
    assert "kv_last_page_len" in definition["inputs"]
    for purpose in ("check", "verify"):
        kv_lens = [case.kv_lens for case in default_cases(definition, purpose)]
        assert [page] in kv_lens or [page, 2 * page] in kv_lens, "whole pages"
        assert any(len({n // page for n in lens if n % page == 0}) >= 2 for lens in kv_lens), "sequences of several page counts ending on a boundary"
        remainders = {n % page for lens in kv_lens for n in lens}
        assert {1, page - 1} <= remainders, "last pages of one token and of all but one"


@pytest.mark.parametrize("key", ["decode_ps1", "paged_prefill_ps1", "mla_prefill_ps1"])
def test_page_size_1_definitions_have_no_last_page_length(key):
    definition = DEFINITIONS[key]()
    assert "kv_last_page_len" not in definition["inputs"]
    assert ("batch_size" in definition["axes"]) == key.startswith("decode"), "prefill has a batch_size axis only with kv_last_page_len"


@pytest.mark.parametrize("key, routed, offset", [("moe", 8, 0), ("moe_ep2", 16, 8), ("moe_ds", 16, 8)])
def test_moe_routes_over_the_experts_the_definition_declares_from_its_shard(key, routed, offset):
    definition = DEFINITIONS[key]()
    values = generated(definition, Case(label="t", batch_size=3))
    assert values["routing_logits"].shape == (3, routed)
    assert values.get("local_expert_offset", 0) == offset


def test_gemm_weight_is_n_by_k_with_unit_scale_products():
    definition = DEFINITIONS["gemm"]()
    values = generated(definition, Case(label="rows", batch_size=64))
    assert values["B"].shape == (48, 32) and values["B"].dtype == torch.float16
    product = values["A"].float() @ values["B"].float().T
    assert 0.5 < product.std().item() < 2.0


def test_decode_verification_includes_a_full_decode_batch():
    cases = default_cases(DEFINITIONS["decode_ps1"](), "verify")
    assert max(case.batch_size for case in cases) == 256


def test_prefill_cases_include_a_cached_prefix_and_none():
    cases = default_cases(DEFINITIONS["paged_prefill_ps16"](), "check")
    prefixes = [[kv - q for q, kv in zip(case.q_lens, case.kv_lens)] for case in cases]
    assert any(all(p == 0 for p in case) for case in prefixes), "a case with no cached prefix"
    assert any(any(p > 16 for p in case) for case in prefixes), "a prefix spanning pages"


def test_ragged_cases_include_an_empty_sequence_with_consistent_offsets():
    definition = DEFINITIONS["ragged_prefill"]()
    case = next(c for c in default_cases(definition, "verify") if 0 in c.q_lens)
    values = generated(definition, case)
    assert torch.diff(values["qo_indptr"]).tolist() == case.q_lens
    assert torch.diff(values["kv_indptr"]).tolist() == case.kv_lens
    assert values["qo_indptr"][-1].item() == values["q"].shape[0]
    assert values["kv_indptr"][-1].item() == values["k"].shape[0] == values["v"].shape[0]


@pytest.mark.parametrize("key", ["top_k", "top_p", "top_k_top_p"])
def test_sampling_rows_are_distributions_repeated_with_valid_filters(key):
    definition = DEFINITIONS[key]()
    vocab = definition["axes"]["vocab_size"]["value"]
    for case in default_cases(definition, "verify"):
        values = generated(definition, case)
        probs = values["probs"]
        distinct = case.extra["distinct_rows"]
        assert bool((probs >= 0).all())
        torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[0]), rtol=0, atol=1e-5)
        assert torch.equal(probs[:distinct].repeat(case.batch_size // distinct, 1), probs)
        # a few tokens carry nearly all the mass, so top-k / top-p select small sets
        assert bool((probs.topk(16, dim=-1).values.sum(-1) > 0.99).all())
        if "top_k" in values:
            assert values["top_k"].dtype == torch.int32
            assert 1 <= values["top_k"].min().item() and values["top_k"].max().item() <= vocab
        if "top_p" in values:
            assert 0 < values["top_p"].min().item() and values["top_p"].max().item() <= 1.0


def test_sampling_edge_case_has_greedy_and_unfiltered_rows():
    definition = DEFINITIONS["top_k_top_p"]()
    case = default_cases(definition, "verify")[0]
    values = generated(definition, case)
    assert values["top_k"][:4].tolist() == [1, 100, 4, 12]
    assert values["top_p"][:4].tolist() == pytest.approx([0.9, 1.0, 0.3, 0.01])


def test_row_kernels_largest_batch_is_a_full_prefill_chunk_within_the_budget():
    small = build("rmsnorm", hidden_size=4096)
    assert largest_batch(small) == MAX_TOKENS
    wide = build("gemm", N=262144, K=8192)  # (K + N) * 2 bytes per row: 4.2 MB, so 1 GiB holds 248 rows
    assert largest_batch(wide) == (1 << 30) // ((262144 + 8192) * 2)
    assert default_cases(wide, "verify")[-1].batch_size == largest_batch(wide)


def test_inputs_are_reproducible_from_the_seed_and_differ_across_seeds():
    definition = DEFINITIONS["paged_prefill_ps16"]()
    case = default_cases(definition, "check")[1]
    first, again, other = (make_inputs(definition, case, seed=s) for s in (1, 1, 2))
    assert all(torch.equal(a, b) for a, b in zip(first, again) if isinstance(a, torch.Tensor))
    assert not torch.equal(first[0], other[0])


def test_each_definition_has_exactly_one_family():
    names = {key: family_for(make()).name for key, make in DEFINITIONS.items()}
    assert names["decode_ps1"] == "gqa_paged_decode" and names["paged_prefill_ps1"] == "gqa_paged_prefill"
    assert names["ragged_prefill"] == "gqa_ragged_prefill" and names["mla_decode_ps64"] == "mla_paged_decode"
    assert names["top_k_top_p"] == "sampling" and names["fused_add_rmsnorm"] == "rmsnorm" and names["gemm"] == "gemm"
    assert names["mla_ragged"] == "mla_ragged_prefill" and names["moe"] == "moe" and names["gdn_mtp"] == "gdn_mtp"
    assert names["dsa_indexer"] == "dsa_topk_indexer" and names["mla_prefill_ps1"] == "mla_paged_prefill"
    assert names["kda_prefill"] == "kda_prefill" and names["kda_decode"] == "kda_decode"
    assert names["rope_neox"] == names["rope_gptj"] == "rope"


def test_rope_inputs_index_a_real_cos_sin_cache_with_varied_head_layouts():
    definition = DEFINITIONS["rope_neox"]()
    cases = default_cases(definition, "verify")
    layouts = {(c.extra.get("num_qo_heads", 8), c.extra.get("num_kv_heads", 2)) for c in cases}
    assert {(8, 2), (16, 1), (4, 4)} <= layouts, "GQA, MLA's single rope key head, MHA"
    assert {1, MAX_TOKENS} <= {c.batch_size for c in cases}
    for case in cases[:3]:
        values = generated(definition, case)
        cache, positions = values["cos_sin_cache"], values["positions"]
        half = cache.shape[1] // 2
        # Each row is (cos, sin) of the same angles: cos^2 + sin^2 = 1, and position 0 turns nothing.
        torch.testing.assert_close(cache[:, :half] ** 2 + cache[:, half:] ** 2, torch.ones(cache.shape[0], half))
        assert torch.equal(cache[0], torch.cat([torch.ones(half), torch.zeros(half)]))
        assert positions.dtype == torch.int64 and 0 <= positions.min() and positions.max() == cache.shape[0] - 1
