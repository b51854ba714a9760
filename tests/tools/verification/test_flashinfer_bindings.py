"""On a GPU: each family's template reference agrees with its FlashInfer binding, and a
reference with one deliberate mistake does not.

Head dim 128 and bf16, as in the models' own definitions, so the FlashInfer kernels
built (JIT) for a dataset's verification serve these tests too. All definitions go
through one sandboxed worker, which builds each binding once.
"""

import pytest

from tests.tools.verification.definitions import build, rope
from tools.verification.verify import verify_against_flashinfer

pytestmark = pytest.mark.gpu

GQA = {"num_qo_heads": 8, "num_kv_heads": 2, "head_dim": 128}

# (family, axes, mistake: (old, new) edit of the template reference)
FAMILIES = {
    "rmsnorm": ("rmsnorm", {"hidden_size": 128}, ("* weight.to(torch.float32)", "")),
    "fused_add_rmsnorm": ("fused_add_rmsnorm", {"hidden_size": 256}, ("+ residual.to(torch.float32)", "")),
    "gemma_rmsnorm": ("gemma_rmsnorm", {"hidden_size": 128}, ("(weight.to(torch.float32) + 1)", "weight.to(torch.float32)")),
    "gemma_fused_add_rmsnorm": ("gemma_fused_add_rmsnorm", {"hidden_size": 256}, ("+ residual.to(torch.float32)", "")),
    "layernorm": ("layernorm", {"hidden_size": 256}, ("+ bias.to(torch.float32)", "")),
    "gemm": ("gemm", {"N": 256, "K": 512}, ("B.to(torch.float32).T).to(A.dtype)", "B.to(torch.float32).T * 1.1).to(A.dtype)")),
    "decode_ps1": ("gqa_paged_decode", {**GQA, "page_size": 1}, ("* sm_scale", "* sm_scale * 2.0")),
    # Page size 16 takes the last page's length: the `_lpl` kernels. The mistakes: query head h
    # reads KV head h % num_kv_heads; the causal mask aligned to the start, not the end.
    "decode_ps16": ("gqa_paged_decode", {**GQA, "page_size": 16}, (".repeat_interleave(group, dim=1)", ".repeat(1, group, 1)")),
    "paged_prefill_ps16": (
        "gqa_paged_prefill",
        {**GQA, "page_size": 16},
        ("(n_kv - n_q + torch.arange(n_q, device=q.device))", "(torch.arange(n_q, device=q.device))"),
    ),
    "ragged_prefill": ("gqa_ragged_prefill", GQA, ("kv_h = h // gqa_ratio", "kv_h = h % num_kv_heads")),
    "top_k": ("top_k_sampling_from_probs", {"vocab_size": 1024}, ("idx_sorted[:k]", "idx_sorted[:k + 1]")),
    "top_p": ("top_p_sampling_from_probs", {"vocab_size": 1024}, ("to_remove[1:] = to_remove[:-1].clone()", "pass")),
    "top_k_top_p": ("top_k_top_p_sampling_from_probs", {"vocab_size": 1024}, ("if p < 1.0:", "if False:")),
}
# rope: (head_size, rotary_dim, is_neox), mistake. MiniMax M2's partial NeoX rope, DeepSeek's
# GPT-J rope over its 64 rope channels, and a full NeoX rope; the mistakes turn the wrong
# way, pair the wrong channels, and read sin for cos.
ROPES = {
    "rope_neox_d128_rd64": ((128, 64, True), ("new_first = first * cos - second * sin", "new_first = first * cos + second * sin")),
    "rope_gptj_d64_rd64": ((64, 64, False), ("turning[..., 0::2], turning[..., 1::2]", "turning[..., :half], turning[..., half:]")),
    "rope_neox_d128_rd128": ((128, 128, True), ("rows[:, :half].unsqueeze(1)", "rows[:, half:].unsqueeze(1)")),
}


def definitions():
    built = {key: (build(family, **axes), mistake) for key, (family, axes, mistake) in FAMILIES.items()}
    built |= {key: (rope(h, r, is_neox=neox), mistake) for key, ((h, r, neox), mistake) in ROPES.items()}
    for key, (right, (old, new)) in built.items():
        assert old in right["reference"], f"{key}: the template reference no longer contains {old!r}"
        wrong = dict(right, name=f"{right['name']}_wrong", reference=right["reference"].replace(old, new))
        yield key, right, wrong


@pytest.fixture(scope="module")
def verdicts():
    pairs = {key: (right, wrong) for key, right, wrong in definitions()}
    reports = verify_against_flashinfer([d for pair in pairs.values() for d in pair])
    return {key: (reports[right["name"]], reports[wrong["name"]]) for key, (right, wrong) in pairs.items()}


@pytest.mark.parametrize("key", [*FAMILIES, *ROPES])
def test_the_template_reference_agrees_with_flashinfer(verdicts, key):
    report, _ = verdicts[key]
    failures = [f"{c.label}: {c.error or [o.message for o in c.outputs if not o.passed]}" for c in report.cases if not c.passed]
    assert report.passed, report.error or failures
    assert report.cases and report.prepare_seconds is not None


@pytest.mark.parametrize("key", [*FAMILIES, *ROPES])
def test_a_reference_with_a_mistake_is_caught(verdicts, key):
    _, report = verdicts[key]
    assert not report.passed
    assert report.error is None, report.error  # judged by its outputs, not a crash
    failing = [o for c in report.cases for o in c.outputs if not o.passed]
    assert failing and all(c.error is None for c in report.cases)
    assert failing[0].problem in ("tolerance", "support", "distribution")
    assert failing[0].output in report.summary
