"""MLA, DSA, MoE and GDN references on small CPU inputs, each against a computation written here."""

import math

import pytest
import torch
import torch.nn.functional as F

from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_spec import KernelSpec
from tools.verification.family_inputs import quantize_fp8_blocks
from tools.verification.inputs import Case, make_inputs
from tools.verification.worker import load_reference

CONTEXT = BuildContext(model_slug="test", sglang_version="test")
MLA = {"num_qo_heads": 4, "head_dim_ckv": 32, "head_dim_kpe": 16}


def prepared(spec, case, seed=0):
    definition = build_definition(spec, CONTEXT)
    run = load_reference(definition["reference"], definition["name"])
    inputs = make_inputs(definition, case, seed=seed)
    return definition, run, dict(zip(definition["inputs"], inputs))


def close(actual, expected, tol=2e-2):
    torch.testing.assert_close(actual.float(), expected.float(), rtol=tol, atol=tol)


def attend(q_nope, q_pe, k_nope, k_pe, scale, visible):
    """MLA attention over the latent cache: scores from both parts, values are k_nope."""
    logits = (torch.einsum("qhd,kd->hqk", q_nope.float(), k_nope.float()) + torch.einsum("qhd,kd->hqk", q_pe.float(), k_pe.float())) * scale
    logits = logits.masked_fill(~visible[None], float("-inf"))
    out = torch.einsum("hqk,kd->qhd", torch.softmax(logits, -1), k_nope.float())
    return out, (torch.logsumexp(logits, -1) / math.log(2.0)).T


def gather(cache, indptr, indices, b):
    pages = indices[indptr[b] : indptr[b + 1]].long()
    return cache[pages].reshape(-1, cache.shape[-1])


def test_mla_paged_decode():
    case = Case(label="decode", batch_size=3, kv_lens=[4, 8, 12])
    _, run, x = prepared(KernelSpec(family="mla_paged_decode", axes={**MLA, "page_size": 4}), case)
    out, lse = run(**x)
    for b in range(3):
        ckv, kpe = (gather(x[c], x["kv_indptr"], x["kv_indices"], b) for c in ("ckv_cache", "kpe_cache"))
        want, want_lse = attend(x["q_nope"][b : b + 1], x["q_pe"][b : b + 1], ckv, kpe, x["sm_scale"], torch.ones(1, ckv.shape[0], dtype=torch.bool))
        close(out[b : b + 1], want)
        close(lse[b : b + 1], want_lse, tol=1e-3)


def test_mla_paged_prefill_is_causal_over_the_cached_prefix():
    case = Case(label="prefill", batch_size=2, q_lens=[3, 2], kv_lens=[8, 4])
    _, run, x = prepared(KernelSpec(family="mla_paged_prefill", axes={**MLA, "page_size": 2}), case)
    out, lse = run(**x)
    qo = x["qo_indptr"]
    for b in range(2):
        ckv, kpe = (gather(x[c], x["kv_indptr"], x["kv_indices"], b) for c in ("ckv_cache", "kpe_cache"))
        n_q, n_kv = int(qo[b + 1] - qo[b]), ckv.shape[0]
        visible = torch.arange(n_kv)[None, :] <= (n_kv - n_q + torch.arange(n_q))[:, None]
        want, want_lse = attend(x["q_nope"][qo[b] : qo[b + 1]], x["q_pe"][qo[b] : qo[b + 1]], ckv, kpe, x["sm_scale"], visible)
        close(out[qo[b] : qo[b + 1]], want)
        close(lse[qo[b] : qo[b + 1]], want_lse, tol=1e-3)


def test_mla_ragged_prefill_against_sdpa_with_a_smaller_value_dim():
    case = Case(label="ragged", batch_size=2, q_lens=[3, 4], kv_lens=[5, 4])
    _, run, x = prepared(KernelSpec(family="mla_ragged_prefill", axes={"num_qo_heads": 4, "head_dim_qk": 24, "head_dim_vo": 16}), case)
    out, lse = run(**x)
    qo, kv = x["qo_indptr"], x["kv_indptr"]
    for b in range(2):
        q, k, v = x["q"][qo[b] : qo[b + 1]].float(), x["k"][kv[b] : kv[b + 1]].float(), x["v"][kv[b] : kv[b + 1]].float()
        mask = torch.arange(k.shape[0])[None, :] <= (k.shape[0] - q.shape[0] + torch.arange(q.shape[0]))[:, None]
        want = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), attn_mask=mask, scale=x["sm_scale"])
        close(out[qo[b] : qo[b + 1]], want.transpose(0, 1))
        logits = torch.einsum("qhd,khd->hqk", q, k) * x["sm_scale"]
        close(lse[qo[b] : qo[b + 1]], (torch.logsumexp(logits.masked_fill(~mask, float("-inf")), -1) / math.log(2.0)).T, tol=1e-3)


def test_dsa_sparse_attention_attends_only_to_selected_slots():
    spec = KernelSpec(family="dsa_sparse_attention", axes={**MLA, "topk": 6, "page_size": 4})
    _, run, x = prepared(spec, Case(label="tokens", batch_size=3, kv_lens=[10]))
    out, lse = run(**x)
    ckv, kpe = x["ckv_cache"].reshape(-1, MLA["head_dim_ckv"]), x["kpe_cache"].reshape(-1, MLA["head_dim_kpe"])
    for t in range(3):
        slots = x["sparse_indices"][t]
        slots = slots[slots >= 0].long()
        want, want_lse = attend(x["q_nope"][t : t + 1], x["q_pe"][t : t + 1], ckv[slots], kpe[slots], x["sm_scale"], torch.ones(1, len(slots), dtype=torch.bool))
        close(out[t : t + 1], want)
        close(lse[t : t + 1], want_lse, tol=1e-3)


def test_dsa_indexer_returns_the_best_scoring_slots():
    spec = KernelSpec(family="dsa_topk_indexer", axes={"num_index_heads": 4, "index_head_dim": 16, "topk": 5, "page_size": 4})
    _, run, x = prepared(spec, Case(label="seqs", batch_size=3, kv_lens=[3, 9, 13]))
    got = run(**x)
    raw = x["k_index_cache_fp8"].view(torch.uint8)
    pages, page_size, _, row = raw.shape
    dim = row - 4
    for b, length in enumerate(x["seq_lens"].tolist()):
        scores = {}
        for pos in range(length):
            page = int(x["block_table"][b, pos // page_size])
            flat = raw[page].reshape(-1)
            key = flat[(pos % page_size) * dim : (pos % page_size + 1) * dim].view(torch.float8_e4m3fn).float()
            scale = flat[page_size * dim + 4 * (pos % page_size) : page_size * dim + 4 * (pos % page_size + 1)].view(torch.float32)
            per_head = torch.relu(x["q_index_fp8"][b].float() @ (key * scale))
            scores[page * page_size + pos % page_size] = float((per_head * x["weights"][b]).sum())
        best = sorted(scores, key=scores.get, reverse=True)[: min(5, length)]
        row_out = got[b].tolist()
        assert row_out[: len(best)] == best
        assert row_out[len(best) :] == [-1] * (5 - len(best))


# ---------------------------------------------------------------------------- MoE

E, H, I = 8, 256, 128


def dequant(values, scales, block_dims):
    out = values.float()
    for dim, block in zip(range(out.dim() - len(block_dims), out.dim()), block_dims):
        scales = scales.repeat_interleave(block, dim=dim)
    return out * scales


def expert_mlp(x, w13, w2):
    up, gate = (x @ w13.T).split(w13.shape[0] // 2, dim=-1)
    return (F.silu(gate) * up) @ w2.T


def moe_straightforward(x, w13, w2, picked, weights):
    out = torch.zeros(x.shape[0], w2.shape[1])
    for t in range(x.shape[0]):
        for e, w in zip(picked[t].tolist(), weights[t].tolist()):
            out[t] += w * expert_mlp(x[t], w13[e], w2[e])
    return out


def route(routing, logits, bias, top_k, groups, scale):
    if routing == "deepseek_v3":
        n_group, topk_group = groups
        s = torch.sigmoid(logits)
        biased = s + bias
        group_score = biased.view(len(s), n_group, -1).topk(2, dim=-1).values.sum(-1)
        keep = torch.zeros_like(group_score).scatter(1, group_score.topk(topk_group, dim=-1).indices, 1.0)
        allowed = keep.repeat_interleave(E // n_group, dim=1).bool()
        picked = biased.masked_fill(~allowed, float("-inf")).topk(top_k, dim=-1).indices
        w = s.gather(1, picked)
        return picked, w / w.sum(-1, keepdim=True) * scale
    if routing == "renormalize":
        picked = logits.topk(top_k, dim=-1).indices
        return picked, torch.softmax(logits.gather(1, picked), dim=-1)
    if routing == "llama4":
        picked = logits.argmax(-1, keepdim=True)
        return picked, torch.sigmoid(logits.gather(1, picked))
    raise AssertionError(routing)


@pytest.mark.parametrize(
    "routing, top_k, groups",
    [("deepseek_v3", 3, (4, 2)), ("renormalize", 2, None), ("llama4", 1, None)],
)
def test_moe_routing_picks_the_same_experts_as_a_straightforward_implementation(routing, top_k, groups):
    axes = {"num_experts": E, "top_k": top_k, "num_local_experts": E, "hidden_size": H, "intermediate_size": I}
    if groups:
        axes.update(n_group=groups[0], topk_group=groups[1])
    definition, run, x = prepared(KernelSpec(family="moe_fp8_block_scale", axes=axes, options={"routing": routing}), Case(label="t", batch_size=6))
    scale = x["routed_scaling_factor"] if routing == "deepseek_v3" else 1.0
    if routing != "deepseek_v3":
        x["routed_scaling_factor"] = None
    got = run(**x)
    hidden = dequant(x["hidden_states"], x["hidden_states_scale"].T, (128,))
    w13 = dequant(x["gemm1_weights"], x["gemm1_weights_scale"], (128, 128))
    w2 = dequant(x["gemm2_weights"], x["gemm2_weights_scale"], (128, 128))
    bias = x["routing_bias"].float() if routing == "deepseek_v3" else torch.zeros(E)
    picked, weights = route(routing, x["routing_logits"], bias, top_k, groups, scale)
    close(got, moe_straightforward(hidden, w13, w2, picked, weights), tol=3e-2)
    # A different expert choice changes the result: the comparison above is sensitive to routing.
    wrong = (picked + 1) % E
    assert not torch.allclose(got.float(), moe_straightforward(hidden, w13, w2, wrong, weights), atol=3e-2)


def test_fp8_block_dequantisation_round_trips():
    torch.manual_seed(0)
    weights = torch.randn(2, 2 * I, H) / math.sqrt(H)
    values, scales = quantize_fp8_blocks(weights, (128, 128))
    assert values.dtype == torch.float8_e4m3fn and scales.shape == (2, 2 * I // 128, H // 128)
    restored = dequant(values, scales, (128, 128))
    relative = (restored - weights).norm() / weights.norm()
    assert relative < 0.05  # e4m3 keeps ~3 mantissa bits
    # And through the reference: the MoE output on quantised weights tracks the float one.
    axes = {"num_experts": E, "top_k": 2, "num_local_experts": E, "hidden_size": H, "intermediate_size": I}
    _, run, x = prepared(KernelSpec(family="moe_fp8_block_scale", axes=axes, options={"routing": "renormalize"}), Case(label="t", batch_size=4))
    x["routed_scaling_factor"] = None
    picked, w = route("renormalize", x["routing_logits"], None, 2, None, 1.0)
    hidden = dequant(x["hidden_states"], x["hidden_states_scale"].T, (128,))
    exact = moe_straightforward(hidden, dequant(x["gemm1_weights"], x["gemm1_weights_scale"], (128, 128)), dequant(x["gemm2_weights"], x["gemm2_weights_scale"], (128, 128)), picked, w)
    got = run(**x).float()
    assert F.cosine_similarity(got.flatten(), exact.flatten(), dim=0) > 0.999


# ---------------------------------------------------------------------------- GDN

GDN = {"num_q_heads": 2, "num_v_heads": 4, "head_size": 16}


def delta_rule(q, k, v, state_vk, g, beta, scale):
    """One token of Gated Delta Net for one head. state is [V, K] (k-last)."""
    m = g * state_vk.T  # [K, V]
    error = v - k @ m
    m = m + beta * torch.outer(k, error)
    return scale * (q @ m), m.T


def gates(x, h, t=None):
    a = x["a"].float()[..., h] if t is None else x["a"].float()[t, h]
    b = x["b"].float()[..., h] if t is None else x["b"].float()[t, h]
    g = torch.exp(-torch.exp(x["A_log"][h].float()) * F.softplus(a + x["dt_bias"][h].float()))
    return g, torch.sigmoid(b)


def test_gdn_decode_is_one_delta_rule_step_per_head():
    _, run, x = prepared(KernelSpec(family="gdn_decode", axes=GDN), Case(label="d", batch_size=2))
    out, new_state = run(**x)
    ratio = GDN["num_v_heads"] // GDN["num_q_heads"]
    for b in range(2):
        for h in range(GDN["num_v_heads"]):
            g, beta = gates({k: (v[b, 0] if torch.is_tensor(v) and v.dim() >= 2 and k in ("a", "b") else v) for k, v in x.items()}, h)
            o, s = delta_rule(x["q"][b, 0, h // ratio].float(), x["k"][b, 0, h // ratio].float(), x["v"][b, 0, h].float(), x["state"][b, h].float(), g, beta, x["scale"])
            close(out[b, 0, h], o)
            close(new_state[b, h], s, tol=1e-3)


def test_gdn_prefill_runs_the_recurrence_over_each_sequence():
    _, run, x = prepared(KernelSpec(family="gdn_prefill", axes=GDN), Case(label="p", batch_size=2, q_lens=[3, 2]))
    out, new_state = run(**x)
    ratio = GDN["num_v_heads"] // GDN["num_q_heads"]
    cu = x["cu_seqlens"].tolist()
    for seq in range(2):
        for h in range(GDN["num_v_heads"]):
            s = x["state"][seq, h].float()
            for t in range(cu[seq], cu[seq + 1]):
                g, beta = gates(x, h, t)
                o, s = delta_rule(x["q"][t, h // ratio].float(), x["k"][t, h // ratio].float(), x["v"][t, h].float(), s, g, beta, x["scale"])
                close(out[t, h], o)
            close(new_state[seq, h], s, tol=1e-3)
