"""Each template reference, run on small CPU inputs, against a computation written here."""

import math

import pytest
import torch
import torch.nn.functional as F

from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_spec import KernelSpec
from tools.verification.inputs import Case, make_inputs
from tools.verification.worker import load_reference

CONTEXT = BuildContext(model_slug="test")
SMALL_ATTN = {"num_qo_heads": 4, "num_kv_heads": 2, "head_dim": 16}


def reference_and_inputs(spec, case, seed=0):
    definition = build_definition(spec, CONTEXT)
    run = load_reference(definition["reference"], definition["name"])
    inputs = make_inputs(definition, case, seed=seed)
    return definition, run, dict(zip(definition["inputs"], inputs))


def close(actual, expected, tol=2e-2):
    torch.testing.assert_close(actual.float(), expected.float(), rtol=tol, atol=tol)


def test_rmsnorm_and_fused_add_rmsnorm():
    case = Case(label="rows", batch_size=5)
    _, run, x = reference_and_inputs(KernelSpec(family="rmsnorm", axes={"hidden_size": 64}), case)
    h = x["hidden_states"].float()
    expected = h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * x["weight"].float()
    close(run(**x), expected)

    _, run, x = reference_and_inputs(KernelSpec(family="fused_add_rmsnorm", axes={"hidden_size": 64}), case, seed=1)
    s = x["hidden_states"].float() + x["residual"].float()
    expected = s / torch.sqrt(s.pow(2).mean(-1, keepdim=True) + 1e-6) * x["weight"].float()
    close(run(**x), expected)


def test_gemm_is_a_times_b_transposed_in_float16():
    _, run, x = reference_and_inputs(KernelSpec(family="gemm", axes={"N": 48, "K": 32}), Case(label="rows", batch_size=7))
    # The dataset's layout: B [N, K], as nn.Linear stores its weight.
    assert x["A"].shape == (7, 32) and x["B"].shape == (48, 32) and x["A"].dtype == x["B"].dtype == torch.float16
    expected = x["A"].double() @ x["B"].double().T
    got = run(**x)
    assert got.dtype == torch.float16 and got.shape == (7, 48)
    close(got, expected, tol=1e-2)
    # B read as [K, N] (the bf16 template's layout) would be another product.
    assert not torch.allclose(got.double(), x["A"].double() @ x["B"].double().reshape(32, 48), atol=1e-1)


def _sdpa(q, k, v, scale, q_offset):
    """Causal GQA attention where query i sees keys 0..q_offset+i; returns out and log2-sum-exp."""
    heads, kv_heads = q.shape[1], k.shape[1]
    rep = heads // kv_heads
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    logits = torch.einsum("qhd,khd->hqk", q.float(), k.float()) * scale
    mask = torch.arange(k.shape[0])[None, :] <= (q_offset + torch.arange(q.shape[0]))[:, None]
    out = F.scaled_dot_product_attention(
        q.float().transpose(0, 1), k.float().transpose(0, 1), v.float().transpose(0, 1), attn_mask=mask, scale=scale
    ).transpose(0, 1)
    lse = torch.logsumexp(logits.masked_fill(~mask, float("-inf")), dim=-1).T / math.log(2.0)
    return out, lse


def _sequence(cache, x, b):
    """Sequence b's tokens, gathered page by page: its full pages, then as many tokens of
    its last page as kv_last_page_len says (all of them where the definition has none)."""
    pages = x["kv_indices"][x["kv_indptr"][b] : x["kv_indptr"][b + 1]].tolist()
    last = int(x["kv_last_page_len"][b]) if "kv_last_page_len" in x else cache.shape[1]
    rows = [cache[p] for p in pages[:-1]] + [cache[pages[-1], :last]]
    return torch.cat(rows)


# Page size 4 with sequences of 5, 10 and 12 tokens: last pages of 1, 2 and 4 tokens.
PAGED_CASES = [(1, [4, 8, 12]), (4, [5, 10, 12])]


@pytest.mark.parametrize("page_size, kv_lens", PAGED_CASES)
def test_paged_decode_against_sdpa(page_size, kv_lens):
    case = Case(label="decode", batch_size=3, kv_lens=kv_lens)
    definition, run, x = reference_and_inputs(KernelSpec(family="gqa_paged_decode", axes={**SMALL_ATTN, "page_size": page_size}), case)
    assert ("kv_last_page_len" in definition["inputs"]) == (page_size > 1)
    out, lse = run(**x)
    for b in range(3):
        k, v = _sequence(x["k_cache"], x, b), _sequence(x["v_cache"], x, b)
        assert k.shape[0] == kv_lens[b]
        want_out, want_lse = _sdpa(x["q"][b : b + 1], k, v, x["sm_scale"], q_offset=k.shape[0] - 1)
        close(out[b : b + 1], want_out)
        close(lse[b : b + 1], want_lse, tol=1e-3)


@pytest.mark.parametrize("page_size, kv_lens", PAGED_CASES[:1] + [(4, [7, 13])])
def test_paged_prefill_is_causal_with_the_cached_prefix(page_size, kv_lens):
    case = Case(label="prefill", batch_size=2, q_lens=[3, 5], kv_lens=kv_lens[-2:])
    _, run, x = reference_and_inputs(KernelSpec(family="gqa_paged_prefill", axes={**SMALL_ATTN, "page_size": page_size}), case)
    out, lse = run(**x)
    qo = x["qo_indptr"]
    for b in range(2):
        q = x["q"][qo[b] : qo[b + 1]]
        k, v = _sequence(x["k_cache"], x, b), _sequence(x["v_cache"], x, b)
        assert k.shape[0] == kv_lens[-2:][b]
        want_out, want_lse = _sdpa(q, k, v, x["sm_scale"], q_offset=k.shape[0] - q.shape[0])
        close(out[qo[b] : qo[b + 1]], want_out)
        close(lse[qo[b] : qo[b + 1]], want_lse, tol=1e-3)


@pytest.mark.parametrize("family", ["gqa_paged_decode", "gqa_paged_prefill"])
def test_page_size_64_references_agree_with_flashinfers_templates_when_every_page_is_full(family):
    """The templates address whole pages only; with full last pages both must agree."""
    from flashinfer.trace.templates import attention

    template = {"gqa_paged_decode": attention._gqa_paged_decode_reference, "gqa_paged_prefill": attention._gqa_paged_prefill_reference}[family]
    case = Case(label="full pages", batch_size=2, q_lens=[3, 64], kv_lens=[64, 128])
    definition, run, x = reference_and_inputs(KernelSpec(family=family, axes={**SMALL_ATTN, "page_size": 64}), case)
    assert x["kv_last_page_len"].tolist() == [64, 64]
    ours = run(**x)
    theirs = template(**{name: value for name, value in x.items() if name != "kv_last_page_len"})
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)
    # A partial last page changes the result: the length is read.
    x["kv_last_page_len"] = torch.tensor([63, 1], dtype=torch.int32)
    assert not torch.allclose(run(**x)[0].float(), ours[0].float(), atol=1e-2)


def test_ragged_prefill_against_sdpa():
    case = Case(label="ragged", batch_size=2, q_lens=[4, 2], kv_lens=[4, 6])
    _, run, x = reference_and_inputs(KernelSpec(family="gqa_ragged_prefill", axes=SMALL_ATTN), case)
    out, lse = run(**x)
    qo, kvp = x["qo_indptr"], x["kv_indptr"]
    for b in range(2):
        q, k, v = x["q"][qo[b] : qo[b + 1]], x["k"][kvp[b] : kvp[b + 1]], x["v"][kvp[b] : kvp[b + 1]]
        want_out, want_lse = _sdpa(q, k, v, x["sm_scale"], q_offset=k.shape[0] - q.shape[0])
        close(out[qo[b] : qo[b + 1]], want_out)
        close(lse[qo[b] : qo[b + 1]], want_lse, tol=1e-3)


def _one_row_distribution(vocab, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(vocab, generator=gen) * 2.0, dim=-1)


def _nucleus(probs, p):
    order = torch.argsort(probs, descending=True)
    cumulative = torch.cumsum(probs[order], 0)
    keep = int((cumulative < p).sum()) + 1
    return set(order[:keep].tolist())


@pytest.mark.parametrize("family", ["top_k_sampling_from_probs", "top_p_sampling_from_probs", "top_k_top_p_sampling_from_probs"])
def test_sampling_draws_only_allowed_tokens_with_the_right_frequencies(family):
    vocab, draws, k, p = 24, 4000, 5, 0.7
    definition = build_definition(KernelSpec(family=family, axes={"vocab_size": vocab}), CONTEXT)
    run = load_reference(definition["reference"], definition["name"])
    row = _one_row_distribution(vocab, seed=3)
    allowed = set(range(vocab))
    args = {"probs": row.expand(draws, vocab).contiguous()}
    if "top_k" in definition["inputs"]:
        args["top_k"] = torch.full((draws,), k, dtype=torch.int32)
        allowed &= set(torch.topk(row, k).indices.tolist())
    if "top_p" in definition["inputs"]:
        args["top_p"] = torch.full((draws,), p, dtype=torch.float32)
        base = row.clone()
        if "top_k" in definition["inputs"]:
            base[[i for i in range(vocab) if i not in allowed]] = 0
            base = base / base.sum()
        allowed &= _nucleus(base, p)
    torch.manual_seed(0)
    samples = run(*[args[n] for n in definition["inputs"]])
    assert samples.dtype == torch.int64 and samples.shape == (draws,)
    assert set(samples.tolist()) <= allowed
    target = torch.zeros(vocab)
    target[list(allowed)] = row[list(allowed)]
    target /= target.sum()
    observed = torch.bincount(samples, minlength=vocab).float() / draws
    assert 0.5 * (observed - target).abs().sum() < 0.06  # total variation distance
