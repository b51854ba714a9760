"""On a Hopper GPU: the SM90 bindings agree with the references of the families FlashInfer's
own APIs leave unverified there (FP8 block-scale MoE, FP8 and float16 GEMM, DSA), and a
reference with one planted mistake does not.

Sizes are small but keep every kernel constraint (FP8 GEMM: N % 64, K % 128; DeepSeek
routing: at most 32 experts per group, 128 in the kept groups). All definitions go
through one sandboxed worker, which builds each binding once. Run after the session's
prebuild (`benchmarks/prebuild_jit.py`): cold, the FP8 GEMM module alone takes 148 s.
"""

import pytest

from tests.tools.verification.definitions import build
from tools.verification.verify import verify_against_flashinfer

pytestmark = pytest.mark.gpu

DEEPSEEK = {"num_experts": 64, "top_k": 8, "n_group": 8, "topk_group": 4, "num_local_experts": 32, "hidden_size": 512, "intermediate_size": 256}
KIMI = {"num_experts": 64, "top_k": 8, "n_group": 1, "topk_group": 1, "num_local_experts": 64, "hidden_size": 512, "intermediate_size": 256}
RENORM = {"num_experts": 32, "top_k": 4, "num_local_experts": 32, "hidden_size": 512, "intermediate_size": 256}
DS_OPTIONS = {"routing": "deepseek_v3", "routed_scaling_factor": 2.5}

# key: (family, options, axes, (old, new): the planted mistake in the reference)
CASES = {
    "moe_deepseek_routing": ("moe_fp8_block_scale", DS_OPTIONS, DEEPSEEK, ("TOPK_GROUP = 4", "TOPK_GROUP = 2")),  # wrong routing group
    "moe_kimi_routing_in_torch": ("moe_fp8_block_scale", DS_OPTIONS, KIMI, ("TOP_K = 8", "TOP_K = 7")),
    "moe_renormalize": ("moe_fp8_block_scale", {"routing": "renormalize"}, RENORM, ("TOP_K = 4", "TOP_K = 3")),
    # scale block off by one
    "gemm_fp8_block_scale": (
        "gemm_fp8_block_scale", {}, {"N": 256, "K": 512},
        ("a_scale.to(torch.float32).repeat_interleave(bk, dim=1)", "a_scale.to(torch.float32).roll(1, dims=1).repeat_interleave(bk, dim=1)"),
    ),
    # B transposed (square, so that the shapes still fit)
    "gemm_fp16": ("gemm", {}, {"N": 256, "K": 256}, ("B.to(torch.float32).T", "B.to(torch.float32)")),
    # wrong sparse index set: each token's last valid slot dropped
    "dsa_sparse_attention": (
        "dsa_sparse_attention", {}, {"num_qo_heads": 16, "head_dim_ckv": 512, "head_dim_kpe": 64, "topk": 2048, "page_size": 64},
        ("valid_indices = indices[valid_mask]", "valid_indices = indices[valid_mask][:-1]"),
    ),
    # wrong selected set: scores without the ReLU
    "dsa_topk_indexer": (
        "dsa_topk_indexer", {}, {"num_index_heads": 64, "index_head_dim": 128, "topk": 2048, "page_size": 64},
        ("per_head = torch.relu(q_index_fp8[b].to(torch.float32) @ k_b.T)", "per_head = (q_index_fp8[b].to(torch.float32) @ k_b.T)"),
    ),
}


def definitions():
    for key, (family, options, axes, (old, new)) in CASES.items():
        right = build(family, options, **axes)
        assert old in right["reference"], f"{key}: the reference no longer contains {old!r}"
        yield key, right, dict(right, name=f"{right['name']}_wrong", reference=right["reference"].replace(old, new))


@pytest.fixture(scope="module")
def verdicts():
    pairs = {key: (right, wrong) for key, right, wrong in definitions()}
    reports = verify_against_flashinfer([d for pair in pairs.values() for d in pair])
    return {key: (reports[right["name"]], reports[wrong["name"]]) for key, (right, wrong) in pairs.items()}


@pytest.mark.parametrize("key", list(CASES))
def test_the_reference_agrees_with_the_sm90_kernel(verdicts, key):
    report, _ = verdicts[key]
    failures = [f"{c.label}: {c.error or [o.message for o in c.outputs if not o.passed]}" for c in report.cases if not c.passed]
    assert report.verdict == "verified", report.reason or report.error or failures
    assert report.api_used and report.prepare_seconds is not None


@pytest.mark.parametrize("key", list(CASES))
def test_a_planted_mistake_is_caught(verdicts, key):
    _, report = verdicts[key]
    assert report.verdict == "failed", report.reason
    assert report.error is None, report.error  # judged by its outputs, not a crash
    failing = [o for c in report.cases for o in c.outputs if not o.passed]
    assert failing and all(c.error is None for c in report.cases)


def test_the_verdicts_name_the_api_used_and_what_flashinfer_checked(verdicts):
    kimi, _ = verdicts["moe_kimi_routing_in_torch"]
    deepseek, _ = verdicts["moe_deepseek_routing"]
    assert kimi.api_used == deepseek.api_used == "flashinfer.gemm.fp8_blockscale_gemm_sm90"
    assert kimi.stands_in_for.endswith("trtllm_fp8_block_scale_moe")
    assert "routing: torch, not checked against FlashInfer" in kimi.checked
    assert "routing: fused_topk_deepseek" in deepseek.checked
