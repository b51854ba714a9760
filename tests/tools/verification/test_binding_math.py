"""The torch side of each SM90 binding, on the CPU, against the definitions' references.

Each binding module passes FlashInfer's kernel in as a function; here that function is
the kernel's math written out in this test, with the contract the kernel has (the layout
it reads scales in, the flags it honours, one token per sequence for the KDA decode
kernel). What is tested is everything the binding does around the kernel: layouts,
gates, routing, slot lists, orderings, the flags it passes. The kernels themselves are
compared on the GPU (`test_flashinfer_sm90.py`).
"""

import math

import torch
import torch.nn.functional as F

from tests.tools.verification.definitions import build
from tools.verification.bindings import binding_named
from tools.verification.bindings.lookup import resolve
from tools.verification.case import Case
from tools.verification.compare import compare_tensor
from tools.verification.criteria import tolerance_for
from tools.verification.execution import load_reference
from tools.verification.inputs import make_inputs

FP8 = torch.float8_e4m3fn
BLOCK = 128


def module_for(definition):
    binding = resolve(definition).binding
    assert binding is not None, resolve(definition).reason
    return binding.load_module()


def reference_outputs(definition, inputs):
    result = load_reference(definition["reference"], definition["name"])(*[x.clone() if isinstance(x, torch.Tensor) else x for x in inputs])
    return list(result) if isinstance(result, (tuple, list)) else [result]


def assert_agree(definition, expected, actual):
    for (name, _), want, got in zip(definition["outputs"].items(), expected, actual):
        report = compare_tensor(name, got, want, tolerance_for(definition), declared_dtype=definition["outputs"][name]["dtype"])
        assert report.passed, report.message


# --- what FlashInfer's SM90 kernels compute, written out --------------------------------


def sm90_blockscale_gemm(input, weight, input_scale, weight_scale, out_dtype=torch.bfloat16):
    """fp8_blockscale_gemm_sm90: an FP8 input's scales are read MN-major [K/128, round_up(M, 4)];
    a bf16 input is quantised per row and 128 columns (amax / 448) by the kernel."""
    m, k = input.shape
    n = weight.shape[0]
    if input.dtype == FP8:
        assert input_scale.shape == (k // BLOCK, -(-m // 4) * 4), "the SM90 kernel reads MN-major activation scales"
        a = input.float() * input_scale[:, :m].T.repeat_interleave(BLOCK, 1)
    else:
        assert input_scale is None
        blocks = input.float().view(m, k // BLOCK, BLOCK)
        amax = blocks.abs().amax(-1, keepdim=True).clamp_min(1e-10)
        a = ((blocks / (amax / 448)).to(FP8).float() * (amax / 448)).view(m, k)
    w = weight.float() * weight_scale.repeat_interleave(BLOCK, 0)[:n].repeat_interleave(BLOCK, 1)[:, :k]
    return (a @ w.T).to(out_dtype)


def delta_rule(state, q, k, v, decay, beta, scale):
    """One sequence, float32, state [HV, V, K] (k-last); q, k expanded to HV heads; decay [T, HV]
    or [T, HV, K]."""
    out = torch.zeros(v.shape)
    for t in range(q.shape[0]):
        d = decay[t]
        state = state * (d[:, None, None] if d.dim() == 1 else d[:, None, :])
        predicted = torch.einsum("hvk,hk->hv", state, k[t])
        state = state + (beta[t][:, None] * (v[t] - predicted))[:, :, None] * k[t][:, None, :]
        out[t] = scale * torch.einsum("hvk,hk->hv", state, q[t])
    return out, state


def expand(x, heads):
    return x.float().repeat_interleave(heads // x.shape[-2], dim=-2)


def l2norm(x):
    return x * torch.rsqrt(x.square().sum(-1, keepdim=True) + 1e-6)


# --- GEMMs --------------------------------------------------------------------------------


def test_fp8_gemm_passes_activation_scales_mn_major():
    definition = build("gemm_fp8_block_scale", N=256, K=512)
    module = module_for(definition)
    for rows in (1, 7, 64):
        inputs = make_inputs(definition, Case(label="t", batch_size=rows), seed=rows)
        assert_agree(definition, reference_outputs(definition, inputs), [module.blockscale_gemm(*inputs, sm90_blockscale_gemm)])


def test_fp8_gemm_inputs_make_a_wrong_scale_block_visible():
    definition = build("gemm_fp8_block_scale", N=256, K=512)
    a, b, a_scale, b_scale = make_inputs(definition, Case(label="t", batch_size=16), seed=3)
    right = reference_outputs(definition, [a, b, a_scale, b_scale])[0]
    shifted = reference_outputs(definition, [a, b, a_scale.roll(1, dims=1), b_scale])[0]
    report = compare_tensor("out", right, shifted, tolerance_for(definition))
    assert not report.passed and report.matched_ratio < 0.5


def test_segment_gemm_is_the_datasets_a_times_b_transposed():
    definition = build("gemm", N=48, K=64)
    module = module_for(definition)
    calls = []

    def segment_run(x, weights, batch_size, weight_column_major, seg_lens):
        """SegmentGEMMWrapper.run: one segment of seg_lens rows times weights[0] (column-major: [N, K])."""
        calls.append((batch_size, weight_column_major, seg_lens.tolist(), tuple(weights.shape)))
        return (x.float() @ weights[0].float().T).to(x.dtype)

    inputs = make_inputs(definition, Case(label="t", batch_size=5))
    assert_agree(definition, reference_outputs(definition, inputs), [module.segment_gemm(*inputs, segment_run)])
    assert calls == [(1, True, [5], (1, 48, 64))]


# --- MoE ------------------------------------------------------------------------------------


def fused_topk_deepseek(scores, bias, n_group, topk_group, topk, scale, values, indices):
    """DeepSeek-V3 routing as fused_topk_deepseek computes it, into its output tensors."""
    s = torch.sigmoid(scores.float())
    biased = s + bias.float()
    t, e = biased.shape
    group_best = biased.view(t, n_group, e // n_group).topk(2, dim=-1).values.sum(-1)
    keep = torch.zeros(t, n_group, dtype=torch.bool).scatter_(1, group_best.topk(topk_group, dim=-1).indices, True)
    chosen = biased.masked_fill(~keep.repeat_interleave(e // n_group, 1), -1e9).topk(topk, dim=-1).indices
    weights = s.gather(1, chosen)
    indices.copy_(chosen)
    values.copy_(weights / weights.sum(-1, keepdim=True) * scale)


MOE = {"num_experts": 32, "top_k": 4, "n_group": 4, "topk_group": 2, "num_local_experts": 16, "hidden_size": 256, "intermediate_size": 128}


def test_moe_with_deepseek_routing_agrees_on_an_ep_shard_with_either_routing_kernel():
    definition = build("moe_fp8_block_scale", {"routing": "deepseek_v3", "routed_scaling_factor": 2.5}, **MOE)
    module = module_for(definition)
    assert (module.TOP_K, module.N_GROUP, module.TOPK_GROUP, module.ROUTING_KERNEL) == (4, 4, 2, "fused_topk_deepseek")
    logits, bias, *weights, offset, scale = make_inputs(definition, Case(label="t", batch_size=16))
    expected = reference_outputs(definition, [logits, bias, *weights, offset, scale])
    assert offset == 16 and expected[0].abs().max() > 0, "an EP shard some tokens reach"
    for route in (module.route_torch(logits, bias, scale), module.route_fused(logits, bias, scale, fused_topk_deepseek)):
        assert_agree(definition, expected, [module.moe_experts(*route, *weights, offset, sm90_blockscale_gemm)])


def test_moe_with_renormalize_routing_agrees_with_and_without_expert_parallelism():
    for local in (32, 16):
        definition = build("moe_fp8_block_scale", {"routing": "renormalize"}, **{**MOE, "num_local_experts": local})
        module = module_for(definition)
        inputs = make_inputs(definition, Case(label="t", batch_size=16), seed=local)
        logits, *weights = inputs[:7]
        offset = inputs[7] if len(inputs) > 7 else 0
        assert (len(inputs) > 7) == (local < 32), "the offset is an input at EP > 1 only"
        actual = module.moe_experts(*module.route_torch(logits), *weights, offset, sm90_blockscale_gemm)
        assert_agree(definition, reference_outputs(definition, inputs), [actual])


# --- GDN ------------------------------------------------------------------------------------


def gdn_rows(q, k, v, states, A_log, a, dt_bias, b, scale, use_qk_l2norm):
    """The gated delta rule over each row's tokens from states[row], the gates from the raw
    inputs; (outputs [B, T, HV, V] bf16, each row's final state)."""
    heads = v.shape[2]
    g = torch.exp(-torch.exp(A_log.float()) * F.softplus(a.float() + dt_bias.float()))
    beta = torch.sigmoid(b.float())
    scale = scale if scale is not None else 1 / math.sqrt(q.shape[-1])
    out, finals = torch.zeros(v.shape), []
    for row in range(q.shape[0]):
        qq, kk = expand(q[row], heads), expand(k[row], heads)
        if use_qk_l2norm:
            qq, kk = l2norm(qq), l2norm(kk)
        out[row], state = delta_rule(states[row], qq, kk, v[row].float(), g[row], beta[row], scale)
        finals.append(state)
    return out.bfloat16(), finals


def gdn_decode_kernel(q, k, v, state, A_log, a, dt_bias, b, scale=None, use_qk_l2norm=True):
    """gated_delta_rule_decode_pretranspose: state [B, HV, V, K] updated in place."""
    out, finals = gdn_rows(q, k, v, list(state), A_log, a, dt_bias, b, scale, use_qk_l2norm)
    state.copy_(torch.stack(finals))
    return out, state


def chunk_gated_delta_rule(q, k, v, g, beta, scale, initial_state, output_final_state, cu_seqlens, use_qk_l2norm_in_kernel, output_state):
    """chunk_gated_delta_rule's math: linear gates g and beta given as float32 [T, HV]."""
    assert g.dtype == beta.dtype == torch.float32 and output_final_state
    heads = v.shape[1]
    scale = scale if scale is not None else 1 / math.sqrt(q.shape[-1])
    out = torch.zeros(v.shape)
    for n in range(cu_seqlens.numel() - 1):
        span = slice(int(cu_seqlens[n]), int(cu_seqlens[n + 1]))
        qq, kk = expand(q[span], heads), expand(k[span], heads)
        if use_qk_l2norm_in_kernel:
            qq, kk = l2norm(qq), l2norm(kk)
        out[span], output_state[n] = delta_rule(initial_state[n], qq, kk, v[span].float(), g[span], beta[span], scale)
    return out.bfloat16(), output_state


def test_gdn_decode_uses_q_and_k_as_given_and_returns_the_k_last_state():
    definition = build("gdn_decode", num_q_heads=2, num_v_heads=4, head_size=128)
    module = module_for(definition)
    inputs = make_inputs(definition, Case(label="t", batch_size=3))
    assert_agree(definition, reference_outputs(definition, inputs), module.gdn_decode(*inputs, gdn_decode_kernel))


def test_gdn_prefill_computes_the_gates_the_kernel_takes():
    definition = build("gdn_prefill", num_q_heads=2, num_v_heads=4, head_size=128)
    module = module_for(definition)
    inputs = make_inputs(definition, Case(label="t", batch_size=2, q_lens=[5, 3]))
    assert_agree(definition, reference_outputs(definition, inputs), module.gdn_prefill(*inputs, chunk_gated_delta_rule))


def gated_delta_rule_mtp(q, k, v, pool, indices, A_log, a, dt_bias, b, scale=None, disable_state_update=False, use_qk_l2norm=True):
    """gated_delta_rule_mtp: each row's tokens from its pool slot; the pool updated unless disabled."""
    slots = [int(i) for i in indices]
    out, finals = gdn_rows(q, k, v, [pool[s] for s in slots], A_log, a, dt_bias, b, scale, use_qk_l2norm)
    if not disable_state_update:
        for slot, state in zip(slots, finals):
            pool[slot] = state
    return out, pool


def test_gdn_mtp_leaves_the_pool_and_uses_q_and_k_as_given():
    definition = build("gdn_mtp", num_q_heads=2, num_v_heads=4, head_size=128)
    module = module_for(definition)
    inputs = make_inputs(definition, Case(label="t", batch_size=3))
    assert_agree(definition, reference_outputs(definition, inputs), module.gdn_mtp(*inputs[:10], gated_delta_rule_mtp))


# --- KDA ------------------------------------------------------------------------------------


def kda_decode_kernel(q, k, v, g, beta, A_log, dt_bias, scale, initial_state, output_final_state, use_qk_l2norm_in_kernel,
                      use_gate_in_kernel, ssm_state_indices, cu_seqlens=None, beta_is_logit=False):
    """recurrent_kda on SM90 (its decode kernel): ONE token per sequence, [B, 1, ...] or packed
    [1, N, ...] with cu_seqlens; the gate in the kernel; the bf16 pool updated in place."""
    assert use_gate_in_kernel and use_qk_l2norm_in_kernel and not output_final_state
    if cu_seqlens is not None:
        assert torch.equal(cu_seqlens, torch.arange(cu_seqlens.numel(), dtype=cu_seqlens.dtype)), "the kernel reads one token per sequence"
        q, k, v, g, beta = (x.transpose(0, 1) for x in (q, k, v, g, beta))
    heads, dim = v.shape[2], q.shape[-1]
    rate = torch.exp(A_log).repeat_interleave(heads // q.shape[2])
    bias = dt_bias.view(q.shape[2], dim).repeat_interleave(heads // q.shape[2], dim=0)
    scale = scale if scale is not None else 1 / math.sqrt(dim)
    out = torch.zeros(v.shape, dtype=torch.bfloat16)
    for row in range(q.shape[0]):
        slot = int(ssm_state_indices[row])
        decay = torch.exp(-rate[None, :, None] * F.softplus(g[row].float() + bias[None]))
        rate_b = torch.sigmoid(beta[row].float()) if beta_is_logit else beta[row].float()
        o, state = delta_rule(initial_state[slot].float(), l2norm(expand(q[row], heads)), l2norm(expand(k[row], heads)), v[row].float(), decay, rate_b, scale)
        out[row], initial_state[slot] = o.bfloat16(), state.bfloat16()
    return (out.transpose(0, 1) if cu_seqlens is not None else out), None


def test_kda_decode_passes_the_kernel_what_sglang_does():
    definition = build("kda_decode", num_q_heads=2, num_v_heads=4, head_dim=128)
    module = module_for(definition)
    inputs = make_inputs(definition, Case(label="t", batch_size=3))
    assert_agree(definition, reference_outputs(definition, inputs), module.kda_decode(*inputs, kda_decode_kernel))


def test_kda_prefill_runs_every_token_through_the_one_token_kernel():
    definition = build("kda_prefill", num_q_heads=2, num_v_heads=4, head_dim=128)
    module = module_for(definition)
    inputs = make_inputs(definition, Case(label="t", batch_size=3, q_lens=[4, 1, 6]))
    assert_agree(definition, reference_outputs(definition, inputs), module.kda_prefill_by_token(*inputs, kda_decode_kernel))


# --- DSA ------------------------------------------------------------------------------------


def mla_paged_ps1(q_nope, q_pe, ckv, kpe, qo_indptr, kv_indptr, kv_indices, kv_len, sm_scale):
    """BatchMLAPagedAttentionWrapper at page size 1: each request's query over its CSR slots, base-2 LSE."""
    assert ckv.shape[1] == 1 and torch.equal(qo_indptr, torch.arange(q_nope.shape[0] + 1, dtype=torch.int32))
    out = torch.zeros(q_nope.shape, dtype=torch.bfloat16)
    lse = torch.full(q_nope.shape[:2], float("-inf"))
    for t in range(q_nope.shape[0]):
        slots = kv_indices[int(kv_indptr[t]) : int(kv_indptr[t + 1])].long()
        assert slots.numel() == int(kv_len[t])
        if slots.numel():
            logits = (q_nope[t].float() @ ckv[slots, 0].float().T + q_pe[t].float() @ kpe[slots, 0].float().T) * sm_scale
            lse[t] = torch.logsumexp(logits, -1) / math.log(2)
            out[t] = (torch.softmax(logits, -1) @ ckv[slots, 0].float()).bfloat16()
    return out, lse


def test_dsa_sparse_attention_is_mla_over_each_tokens_valid_slots():
    definition = build("dsa_sparse_attention", num_qo_heads=16, head_dim_ckv=512, head_dim_kpe=64, topk=512, page_size=64)
    module = module_for(definition)
    inputs = make_inputs(definition, Case(label="t", batch_size=4, kv_lens=[300]))
    assert (inputs[4] == -1).any() and (inputs[4] >= 64).any(), "padded lists and slots beyond the first page"
    assert_agree(definition, reference_outputs(definition, inputs), module.sparse_attention(*inputs, mla_paged_ps1))


def top_k_page_table_transform(logits, block_table, lengths, k, page_size):
    """Each row's k best positions among its first `lengths`, as global slots, -1 padded,
    in no particular order (the kernel promises none: here reversed)."""
    out = torch.full((logits.shape[0], k), -1, dtype=torch.int32)
    for row in range(logits.shape[0]):
        n = int(lengths[row])
        best = logits[row, :n].topk(min(k, n)).indices.flip(0)
        out[row, : best.numel()] = (block_table[row, best // page_size].long() * page_size + best % page_size).int()
    return out


def test_dsa_indexer_returns_the_kernels_selection_best_first():
    definition = build("dsa_topk_indexer", num_index_heads=64, index_head_dim=128, topk=64, page_size=64)
    module = module_for(definition)
    inputs = make_inputs(definition, Case(label="t", batch_size=3, kv_lens=[300, 64, 10]))
    expected = reference_outputs(definition, inputs)[0]
    actual = module.topk_indexer(*inputs, top_k_page_table_transform)[0]
    assert torch.equal(actual, expected)


# --- Mamba ----------------------------------------------------------------------------------


def test_mamba_passes_per_head_views_and_refuses_untied_inputs():
    import pytest

    module = binding_named("mamba_ssu").load_module()
    from tools.verification.families.mamba import _mamba_inputs

    definition = {
        "axes": {"nheads": {"type": "const", "value": 8}, "head_dim": {"type": "const", "value": 16}, "dstate": {"type": "const", "value": 32}, "ngroups": {"type": "const", "value": 2}},
        "inputs": {n: {"dtype": d} for n, d in [("state", "bfloat16"), ("x", "bfloat16"), ("dt", "bfloat16"), ("A", "float32"), ("B", "bfloat16"), ("C", "bfloat16"), ("D", "bfloat16"), ("dt_bias", "bfloat16"), ("state_batch_indices", "int32")]},
    }
    x = _mamba_inputs(definition, Case(label="t", batch_size=3), torch.Generator().manual_seed(0))
    seen = {}

    def kernel(state, x_, dt, A, B, C, D, dt_bias, dt_softplus, state_batch_indices):
        seen.update(A=A.stride(), D=D.stride(), dt=dt.stride(), dt_bias=dt_bias.stride(), softplus=dt_softplus)
        return torch.zeros_like(x_)

    module.selective_state_update(*x.values(), kernel)
    assert seen == {"A": (1, 0, 0), "D": (1, 0), "dt": (8, 1, 0), "dt_bias": (1, 0), "softplus": True}
    untied = dict(x, A=x["A"] + torch.rand(x["A"].shape))
    with pytest.raises(ValueError, match="A varies over head_dim"):
        module.selective_state_update(*untied.values(), kernel)


def test_fp8_gemm_with_a_partial_last_weight_block():
    definition = build("gemm_fp8_block_scale", N=576, K=512)  # DeepSeek's kv_a projection width
    module = module_for(definition)
    inputs = make_inputs(definition, Case(label="t", batch_size=5))
    assert inputs[1].shape == (576, 512) and inputs[3].shape == (5, 4)
    assert_agree(definition, reference_outputs(definition, inputs), [module.blockscale_gemm(*inputs, sm90_blockscale_gemm)])
