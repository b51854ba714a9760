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

CONTEXT = BuildContext(model_slug="test")
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


def gather(cache, x, b):
    """Sequence b's latent rows, page by page; of its last page only kv_last_page_len rows
    (all of them where the definition has no kv_last_page_len: page size 1)."""
    pages = x["kv_indices"][x["kv_indptr"][b] : x["kv_indptr"][b + 1]].tolist()
    last = int(x["kv_last_page_len"][b]) if "kv_last_page_len" in x else cache.shape[1]
    return torch.cat([cache[p] for p in pages[:-1]] + [cache[pages[-1], :last]])


@pytest.mark.parametrize("page_size, kv_lens", [(1, [4, 8, 12]), (4, [4, 9, 15])])
def test_mla_paged_decode(page_size, kv_lens):
    case = Case(label="decode", batch_size=3, kv_lens=kv_lens)
    _, run, x = prepared(KernelSpec(family="mla_paged_decode", axes={**MLA, "page_size": page_size}), case)
    out, lse = run(**x)
    for b in range(3):
        ckv, kpe = (gather(x[c], x, b) for c in ("ckv_cache", "kpe_cache"))
        assert ckv.shape[0] == kv_lens[b]
        want, want_lse = attend(x["q_nope"][b : b + 1], x["q_pe"][b : b + 1], ckv, kpe, x["sm_scale"], torch.ones(1, ckv.shape[0], dtype=torch.bool))
        close(out[b : b + 1], want)
        close(lse[b : b + 1], want_lse, tol=1e-3)


@pytest.mark.parametrize("page_size, kv_lens", [(1, [8, 4]), (4, [7, 5])])
def test_mla_paged_prefill_is_causal_over_the_cached_prefix(page_size, kv_lens):
    case = Case(label="prefill", batch_size=2, q_lens=[3, 2], kv_lens=kv_lens)
    _, run, x = prepared(KernelSpec(family="mla_paged_prefill", axes={**MLA, "page_size": page_size}), case)
    out, lse = run(**x)
    qo = x["qo_indptr"]
    for b in range(2):
        ckv, kpe = (gather(x[c], x, b) for c in ("ckv_cache", "kpe_cache"))
        assert ckv.shape[0] == kv_lens[b]
        n_q, n_kv = int(qo[b + 1] - qo[b]), ckv.shape[0]
        visible = torch.arange(n_kv)[None, :] <= (n_kv - n_q + torch.arange(n_q))[:, None]
        want, want_lse = attend(x["q_nope"][qo[b] : qo[b + 1]], x["q_pe"][qo[b] : qo[b + 1]], ckv, kpe, x["sm_scale"], visible)
        close(out[qo[b] : qo[b + 1]], want)
        close(lse[qo[b] : qo[b + 1]], want_lse, tol=1e-3)


@pytest.mark.parametrize("stage", ["decode", "prefill"])
def test_mla_page_size_64_agrees_with_flashinfers_template_when_every_page_is_full(stage):
    from flashinfer.trace.templates import attention

    template = {"decode": attention._mla_paged_decode_reference, "prefill": attention._mla_paged_prefill_reference}[stage]
    case = Case(label="full pages", batch_size=2, q_lens=[2, 5], kv_lens=[64, 128])
    _, run, x = prepared(KernelSpec(family=f"mla_paged_{stage}", axes={**MLA, "page_size": 64}), case)
    ours = run(**x)
    theirs = template(**{name: value for name, value in x.items() if name != "kv_last_page_len"})
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)


def test_mla_ragged_prefill_against_sdpa_with_a_smaller_value_dim():
    case = Case(label="ragged", batch_size=2, q_lens=[3, 4], kv_lens=[5, 4])
    _, run, x = prepared(KernelSpec(family="mla_ragged_prefill", axes={"num_qo_heads": 4, "qk_dim": 24, "vo_dim": 16}), case)
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


def moe_straightforward(x, w13, w2, picked, weights, offset=0):
    """Each token's picked experts, weighted; only the local ones (ids offset .. offset + local) run here."""
    out = torch.zeros(x.shape[0], w2.shape[1])
    for t in range(x.shape[0]):
        for e, w in zip(picked[t].tolist(), weights[t].tolist()):
            if offset <= e < offset + w13.shape[0]:
                out[t] += w * expert_mlp(x[t], w13[e - offset], w2[e - offset])
    return out


def route(routing, logits, bias, top_k, groups, scale):
    logits = logits.float()
    if routing == "deepseek_v3":
        n_group, topk_group = groups
        s = torch.sigmoid(logits)
        biased = s + bias
        group_score = biased.view(len(s), n_group, -1).topk(2, dim=-1).values.sum(-1)
        keep = torch.zeros_like(group_score).scatter(1, group_score.topk(topk_group, dim=-1).indices, 1.0)
        allowed = keep.repeat_interleave(logits.shape[1] // n_group, dim=1).bool()
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


def moe_axes(top_k, experts=E, local=E, groups=None):
    axes = {"num_experts": experts, "top_k": top_k, "num_local_experts": local, "hidden_size": H, "intermediate_size": I}
    if groups:
        axes.update(n_group=groups[0], topk_group=groups[1])
    return axes


def expert_weights(x):
    hidden = dequant(x["hidden_states"], x["hidden_states_scale"].T, (128,))
    return hidden, dequant(x["gemm1_weights"], x["gemm1_weights_scale"], (128, 128)), dequant(x["gemm2_weights"], x["gemm2_weights_scale"], (128, 128))


@pytest.mark.parametrize(
    "routing, top_k, groups, experts, local",
    [("deepseek_v3", 3, (4, 2), E, E), ("deepseek_v3", 3, (4, 2), 2 * E, E), ("renormalize", 2, None, E, E), ("renormalize", 2, None, 2 * E, E), ("llama4", 1, None, E, E)],
)
def test_moe_routing_picks_the_same_experts_as_a_straightforward_implementation(routing, top_k, groups, experts, local):
    spec = KernelSpec(family="moe_fp8_block_scale", axes=moe_axes(top_k, experts, local, groups), options={"routing": routing})
    definition, run, x = prepared(spec, Case(label="t", batch_size=6))
    # Routed over every expert; at EP > 1 this GPU runs the last `local` of them.
    assert x["routing_logits"].shape == (6, experts)
    offset = x.get("local_expert_offset", 0)
    assert offset == experts - local
    got = run(**x)
    hidden, w13, w2 = expert_weights(x)
    bias = x["routing_bias"].float() if routing == "deepseek_v3" else None
    picked, weights = route(routing, x["routing_logits"], bias, top_k, groups, x.get("routed_scaling_factor", 1.0))
    close(got, moe_straightforward(hidden, w13, w2, picked, weights, offset), tol=3e-2)
    # A different expert choice changes the result: the comparison above is sensitive to routing.
    wrong = (picked + 1) % experts
    assert not torch.allclose(got.float(), moe_straightforward(hidden, w13, w2, wrong, weights, offset), atol=3e-2)


@pytest.mark.parametrize("routing, groups, experts", [("deepseek_v3", (4, 2), 2 * E), ("renormalize", None, E), ("renormalize", None, 2 * E)])
def test_moe_run_is_flashinfers_template_reference_with_the_routing_constants(routing, groups, experts):
    """The definition's run() takes the dataset's inputs and calls the template's reference
    with top_k (and the groups) baked in, and SGLang's values for what it does not take."""
    from flashinfer.trace.templates import moe

    spec = KernelSpec(family="moe_fp8_block_scale", axes=moe_axes(3, experts, E, groups), options={"routing": routing})
    definition, run, x = prepared(spec, Case(label="t", batch_size=5))
    tensors = [x[name] for name in ("routing_logits", "hidden_states", "hidden_states_scale", "gemm1_weights", "gemm1_weights_scale", "gemm2_weights", "gemm2_weights_scale")]
    if routing == "deepseek_v3":
        want = moe._trtllm_fp8_block_scale_moe_ds_routing_reference(
            tensors[0], x["routing_bias"], *tensors[1:], 3, *groups, x["local_expert_offset"], x["routed_scaling_factor"]
        )
    else:
        want = moe._trtllm_fp8_block_scale_moe_renormalize_routing_reference(tensors[0], None, *tensors[1:], 3, x.get("local_expert_offset", 0), None)
    assert torch.equal(run(**x), want)


def test_fp8_block_dequantisation_round_trips():
    torch.manual_seed(0)
    weights = torch.randn(2, 2 * I, H) / math.sqrt(H)
    values, scales = quantize_fp8_blocks(weights, (128, 128))
    assert values.dtype == torch.float8_e4m3fn and scales.shape == (2, 2 * I // 128, H // 128)
    restored = dequant(values, scales, (128, 128))
    relative = (restored - weights).norm() / weights.norm()
    assert relative < 0.05  # e4m3 keeps ~3 mantissa bits
    # And through the reference: the MoE output on quantised weights tracks the float one.
    _, run, x = prepared(KernelSpec(family="moe_fp8_block_scale", axes=moe_axes(2), options={"routing": "renormalize"}), Case(label="t", batch_size=4))
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


def test_gdn_mtp_runs_each_row_from_its_pooled_state_and_leaves_the_pool_unchanged():
    definition, run, x = prepared(KernelSpec(family="gdn_mtp", axes=GDN), Case(label="m", batch_size=2, q_lens=[3, 3]))
    assert list(definition["inputs"])[-2:] == ["scale", "intermediate_states_buffer"]
    pool_before = x["initial_state"].clone()
    out, final_state = run(**x)
    ratio = GDN["num_v_heads"] // GDN["num_q_heads"]
    steps = x["q"].shape[1]
    for row in range(2):
        slot = int(x["initial_state_indices"][row])
        for h in range(GDN["num_v_heads"]):
            s = x["initial_state"][slot, h].float()
            for t in range(steps):
                step = {k: (v[row, t] if k in ("a", "b") else v) for k, v in x.items()}
                g, beta = gates(step, h)
                o, s = delta_rule(x["q"][row, t, h // ratio].float(), x["k"][row, t, h // ratio].float(), x["v"][row, t, h].float(), s, g, beta, x["scale"])
                close(out[row, t, h], o)
                # The state after each token, per batch row, for rollback.
                close(x["intermediate_states_buffer"][row, t, h], s, tol=1e-3)
    # Verification does not commit the state (SGLang: disable_state_update=True).
    assert torch.equal(final_state, pool_before) and torch.equal(x["initial_state"], pool_before)


def test_gdn_mtp_scale_zero_or_none_means_one_over_sqrt_head_size():
    _, run, x = prepared(KernelSpec(family="gdn_mtp", axes=GDN), Case(label="m", batch_size=1, q_lens=[2]))
    explicit = run(**{**x, "scale": 1.0 / math.sqrt(GDN["head_size"])})[0]
    assert torch.equal(run(**{**x, "scale": 0.0})[0], explicit)
    assert torch.equal(run(**{**x, "scale": None})[0], explicit)


@pytest.mark.parametrize("family", ["gdn_decode", "gdn_mtp", "gdn_prefill"])
def test_gdn_gates_take_the_datasets_dtypes(family):
    definition, run, x = prepared(KernelSpec(family=family, axes=GDN), Case(label="d", batch_size=2, q_lens=[2, 3]))
    dtypes = {name: definition["inputs"][name]["dtype"] for name in ("A_log", "a", "dt_bias", "b")}
    assert dtypes == {"A_log": "float32", "a": "bfloat16", "dt_bias": "float32", "b": "bfloat16"}
    assert x["dt_bias"].dtype == torch.float32 and x["a"].dtype == torch.bfloat16
