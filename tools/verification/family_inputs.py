"""Input generators for MLA, DSA, MoE and GDN definitions (see `inputs.py` for the rest).

Each generator returns every input of the definition by name: latent caches with
consistent page tables (sequences ending mid-page where the definition takes
`kv_last_page_len`), top-k slot lists that point at filled slots, FP8 tensors with
their 128-block scales (quantised from random bf16, so dequantisation round-trips),
and GDN gates in the ranges the model produces.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from tools.verification.layouts import indptr, paged_layout, round_up

FP8 = torch.float8_e4m3fn
FP8_MAX = 448.0
BLOCK = 128
# DeepSeek's MLA softmax scale, 1/sqrt(qk_nope + qk_rope) = 1/sqrt(192), taken before
# weight absorption: a realistic value (any positive scale is a valid input).
MLA_SM_SCALE = 1.0 / math.sqrt(192.0)


def _const(definition: dict[str, Any], axis: str) -> int | None:
    spec = definition["axes"].get(axis)
    return spec.get("value") if spec and spec.get("type") == "const" else None


def _declared_dtype(definition: dict[str, Any], name: str) -> torch.dtype:
    return getattr(torch, definition["inputs"][name]["dtype"])


def _randn(shape, gen, dtype=torch.bfloat16, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(*shape, generator=gen) * scale).to(dtype)


def quantize_fp8_blocks(x: torch.Tensor, block_dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """FP8 (e4m3) values and float32 scales per block of `block_dims` trailing dims."""
    x = x.to(torch.float32)
    lead = x.shape[: x.dim() - len(block_dims)]
    dims = x.shape[x.dim() - len(block_dims):]
    grid = [d // b for d, b in zip(dims, block_dims)]
    view_shape = list(lead)
    for g, b in zip(grid, block_dims):
        view_shape += [g, b]
    blocks = x.reshape(view_shape)
    reduce_dims = tuple(len(lead) + 2 * i + 1 for i in range(len(block_dims)))
    amax = blocks.abs().amax(dim=reduce_dims, keepdim=True).clamp(min=1e-8)
    scale = amax / FP8_MAX
    values = (blocks / scale).to(FP8).reshape(x.shape)
    return values, scale.reshape(list(lead) + grid)


def _mla_paged(definition: dict[str, Any], case, gen: torch.Generator, *, prefill: bool) -> dict[str, Any]:
    heads, ckv, kpe, ps = (_const(definition, a) for a in ("num_qo_heads", "head_dim_ckv", "head_dim_kpe", "page_size"))
    partial = "kv_last_page_len" in definition["inputs"]
    kv_lens = case.kv_lens or [ps] * case.batch_size
    if not partial:  # every page of a sequence is full
        kv_lens = [max(ps, round_up(n, ps)) for n in kv_lens]
    layout = paged_layout(kv_lens, ps, gen, partial_last_page=partial)
    q_lens = (case.q_lens or [1] * case.batch_size) if prefill else [1] * case.batch_size
    tokens = sum(q_lens)
    values: dict[str, Any] = {
        "q_nope": _randn((tokens, heads, ckv), gen, scale=0.3),
        "q_pe": _randn((tokens, heads, kpe), gen, scale=0.3),
        "ckv_cache": _randn((layout.num_pages, ps, ckv), gen, scale=0.3),
        "kpe_cache": _randn((layout.num_pages, ps, kpe), gen, scale=0.3),
        "kv_indptr": layout.kv_indptr,
        "kv_indices": layout.kv_indices,
        "kv_last_page_len": layout.kv_last_page_len,
        "sm_scale": MLA_SM_SCALE,
    }
    if prefill:
        values["qo_indptr"] = indptr(q_lens)
    return values


def _mla_ragged(definition: dict[str, Any], case, gen: torch.Generator) -> dict[str, Any]:
    heads, qk, vo = (_const(definition, a) for a in ("num_qo_heads", "qk_dim", "vo_dim"))
    q_lens = case.q_lens or [1] * case.batch_size
    kv_lens = case.kv_lens or q_lens
    return {
        "q": _randn((sum(q_lens), heads, qk), gen),
        "k": _randn((sum(kv_lens), heads, qk), gen),
        "v": _randn((sum(kv_lens), heads, vo), gen),
        "qo_indptr": indptr(q_lens),
        "kv_indptr": indptr(kv_lens),
        "sm_scale": 1.0 / math.sqrt(qk),
    }


def _dsa_sparse(definition: dict[str, Any], case, gen: torch.Generator) -> dict[str, Any]:
    heads, ckv, kpe, topk, ps = (_const(definition, a) for a in ("num_qo_heads", "head_dim_ckv", "head_dim_kpe", "topk", "page_size"))
    tokens = case.batch_size
    kv_len = max(case.kv_lens or [8])
    num_pages = math.ceil(kv_len / ps) + 2
    slots = num_pages * ps
    indices = torch.full((tokens, topk), -1, dtype=torch.int32)
    for t in range(tokens):
        count = min(topk, kv_len - t) if kv_len > t else 1
        indices[t, :count] = torch.randperm(slots, generator=gen)[:count].to(torch.int32)
    return {
        "q_nope": _randn((tokens, heads, ckv), gen, scale=0.3),
        "q_pe": _randn((tokens, heads, kpe), gen, scale=0.3),
        "ckv_cache": _randn((num_pages, ps, ckv), gen, scale=0.3),
        "kpe_cache": _randn((num_pages, ps, kpe), gen, scale=0.3),
        "sparse_indices": indices,
        "sm_scale": MLA_SM_SCALE,
    }


def pack_index_cache(keys: torch.Tensor) -> torch.Tensor:
    """[pages, page_size, dim] float keys -> the packed FP8 index cache (int8 bytes):
    per page, page_size*dim fp8 values, then page_size float32 per-token scales."""
    pages, page_size, dim = keys.shape
    scale = keys.abs().amax(dim=-1).clamp(min=1e-8) / FP8_MAX  # [pages, page_size]
    values = (keys / scale[..., None]).to(FP8)
    packed = torch.cat([values.view(torch.uint8).reshape(pages, -1), scale.to(torch.float32).contiguous().view(torch.uint8).reshape(pages, -1)], dim=1)
    return packed.view(torch.int8).reshape(pages, page_size, 1, dim + 4)


def _dsa_indexer(definition: dict[str, Any], case, gen: torch.Generator) -> dict[str, Any]:
    heads, dim, ps = (_const(definition, a) for a in ("num_index_heads", "index_head_dim", "page_size"))
    seq_lens = case.kv_lens or [5] * case.batch_size
    per_seq = [max(1, math.ceil(n / ps)) for n in seq_lens]
    num_pages = sum(per_seq) + 2
    table = torch.zeros((case.batch_size, max(per_seq)), dtype=torch.int32)
    order = torch.randperm(num_pages, generator=gen).to(torch.int32)
    offset = 0
    for b, n in enumerate(per_seq):
        table[b, :n] = order[offset : offset + n]
        offset += n
    return {
        "q_index_fp8": _randn((case.batch_size, heads, dim), gen, dtype=torch.float32).to(FP8),
        "k_index_cache_fp8": pack_index_cache(torch.randn(num_pages, ps, dim, generator=gen)),
        "weights": torch.rand(case.batch_size, heads, generator=gen),
        "seq_lens": torch.tensor(seq_lens, dtype=torch.int32),
        "block_table": table,
    }


def _moe(definition: dict[str, Any], case, gen: torch.Generator) -> dict[str, Any]:
    from tools.verification.expert_weights import expert_weights  # it builds on this module

    local, hidden, inter = (_const(definition, a) for a in ("num_local_experts", "hidden_size", "intermediate_size"))
    # Routing is over all experts (num_experts) where the definition routes globally
    # (DeepSeek routing, or EP > 1), else over the local ones.
    routed = _const(definition, definition["inputs"]["routing_logits"]["shape"][1])
    tokens = case.batch_size
    hidden_states, hidden_scale = quantize_fp8_blocks(torch.randn(tokens, hidden, generator=gen), (BLOCK,))
    w1, s1 = expert_weights(local, 2 * inter, hidden, gen)
    w2, s2 = expert_weights(local, hidden, inter, gen)
    return {
        "routing_logits": torch.randn(tokens, routed, generator=gen).to(_declared_dtype(definition, "routing_logits")),
        "routing_bias": _randn((routed,), gen, scale=0.1),  # DeepSeek routing's correction bias
        "hidden_states": hidden_states,
        "hidden_states_scale": hidden_scale.T.contiguous(),  # [hidden/128, tokens]
        "gemm1_weights": w1,
        "gemm1_weights_scale": s1,
        "gemm2_weights": w2,
        "gemm2_weights_scale": s2,
        # The last shard's experts: at EP > 1 a nonzero offset into the global expert ids.
        "local_expert_offset": routed - local,
        "routed_scaling_factor": 2.5,
    }


def _gdn(definition: dict[str, Any], case, gen: torch.Generator, *, mode: str) -> dict[str, Any]:
    q, v, d = (_const(definition, a) for a in ("num_q_heads", "num_v_heads", "head_size"))
    q_lens = case.q_lens or [3] * case.batch_size
    if mode == "prefill":
        tokens = sum(q_lens)
        shape_q, shape_v, gate = (tokens, q, d), (tokens, v, d), (tokens, v)
    else:
        steps = 1 if mode == "decode" else max(2, q_lens[0])
        shape_q, shape_v, gate = (case.batch_size, steps, q, d), (case.batch_size, steps, v, d), (case.batch_size, steps, v)
    keys = torch.nn.functional.normalize(torch.randn(*shape_q, generator=gen), dim=-1)
    values: dict[str, Any] = {
        "q": _randn(shape_q, gen, scale=0.5),
        "k": keys.to(torch.bfloat16),
        "v": _randn(shape_v, gen, scale=0.5),
        "A_log": torch.log(torch.rand(v, generator=gen) * 8 + 1),
        "dt_bias": _randn((v,), gen, dtype=_declared_dtype(definition, "dt_bias"), scale=0.5),
        "scale": 1.0 / math.sqrt(d),
        "a": _randn(gate, gen, dtype=_declared_dtype(definition, "a")),
        "b": _randn(gate, gen, dtype=_declared_dtype(definition, "b")),
    }
    if mode == "prefill":
        values["cu_seqlens"] = indptr(q_lens).to(torch.int64)
        values["state"] = torch.randn(len(q_lens), v, d, d, generator=gen) * 0.1
    elif mode == "decode":
        values["state"] = torch.randn(case.batch_size, v, d, d, generator=gen) * 0.1
    else:
        pool = case.batch_size + 2
        values["initial_state"] = torch.randn(pool, v, d, d, generator=gen) * 0.1
        values["initial_state_indices"] = torch.randperm(pool, generator=gen)[: case.batch_size].to(torch.int32)
        values["intermediate_states_buffer"] = torch.zeros(pool, shape_q[1], v, d, d)
    return values


GENERATORS: dict[str, Callable[[dict[str, Any], Any, torch.Generator], dict[str, Any]]] = {
    "mla_paged_decode": lambda d, c, g: _mla_paged(d, c, g, prefill=False),
    "mla_paged_prefill": lambda d, c, g: _mla_paged(d, c, g, prefill=True),
    "mla_ragged": _mla_ragged,
    "dsa_sparse_attention": _dsa_sparse,
    "dsa_topk_indexer": _dsa_indexer,
    "moe": _moe,
    "gdn_prefill": lambda d, c, g: _gdn(d, c, g, mode="prefill"),
    "gdn_decode": lambda d, c, g: _gdn(d, c, g, mode="decode"),
    "gdn_mtp": lambda d, c, g: _gdn(d, c, g, mode="mtp"),
}


def family_of(definition: dict[str, Any]) -> str | None:
    """The generator key for the families this module covers, else None."""
    op_type, name = definition["op_type"], definition["name"]
    if op_type == "mla_paged":
        return "mla_paged_decode" if "decode" in name else "mla_paged_prefill"
    if op_type == "dsa_paged":
        return "dsa_topk_indexer" if "indexer" in name else "dsa_sparse_attention"
    if op_type == "gdn":
        for mode in ("prefill", "decode", "mtp"):
            if name.startswith(f"gdn_{mode}"):
                return f"gdn_{mode}"
    if op_type in ("mla_ragged", "moe"):
        return op_type
    return None
