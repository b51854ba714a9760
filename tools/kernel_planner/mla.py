"""Rules for Multi-head Latent Attention (DeepSeek V2/V3, Kimi K2) and DSA (V3.2).

SGLang builds two RadixAttentions per MLA layer. The absorbed one attends over the
latent cache as MQA: one KV head whose head_dim is kv_lora_rank + qk_rope_head_dim and
whose v_head_dim is kv_lora_rank (-> paged MLA decode/prefill, `ckv`/`kpe` split). The
other is MHA before absorption, q/k head_dim qk_nope + qk_rope, v head_dim v_head_dim,
used for prefill over contiguous K/V (-> MLA ragged prefill). With a DSA indexer beside
them, attention runs sparsely over the indexer's top-k slots instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.kernel_planner.rope import plan_indexer_rope
from tools.model_parser.inventory import Component

if TYPE_CHECKING:
    from tools.kernel_planner import Planner

# SGLang's DSA backend keeps the indexer's FP8 key cache in 64-token pages.
DSA_INDEXER_PAGE_SIZE = 64


def plan_mla_attention(planner: Planner, component: Component) -> None:
    heads, kv_heads = component.value("num_heads"), component.value("num_kv_heads")
    head_dim, v_head_dim = component.value("head_dim"), component.value("v_head_dim")
    tp = planner.inventory.tp
    if not _latent_kv(planner, component):
        # MiMo V2 attends with q/k heads of 192 and v heads of 128 over separate K and V:
        # one KV head after TP looks like MLA's absorbed MQA, but there is no latent to absorb.
        planner.pending(
            component,
            f"attention with q/k head dim {head_dim} and v head dim {v_head_dim} over separate K and V (no MLA latent "
            "KV projection beside it): asymmetric-head attention has no definition family here",
        )
        return
    indexer = _dsa_indexer(planner, component)
    if kv_heads == 1:
        ckv, kpe = v_head_dim, head_dim - v_head_dim
        if indexer is not None:
            topk = indexer.value("index_topk")
            if not isinstance(topk, int):
                planner.pending(component, "DSA top-k could not be resolved from the indexer")
                return
            for page_size in planner.options.page_sizes:
                axes = {"num_qo_heads": heads, "head_dim_ckv": ckv, "head_dim_kpe": kpe, "topk": topk, "page_size": page_size}
                planner.emit(component, "dsa_sparse_attention", axes, tp=tp)
            return
        for stage in planner.stages():
            for page_size in planner.options.page_sizes:
                axes = {"num_qo_heads": heads, "head_dim_ckv": ckv, "head_dim_kpe": kpe, "page_size": page_size}
                planner.emit(component, f"mla_paged_{stage}", axes, stage=stage, tp=tp)
        return
    if kv_heads == heads:
        if indexer is not None:
            planner.skip(component, "with a DSA indexer, SGLang runs prefill through the sparse attention kernel too")
            return
        if "prefill" in planner.options.stages:
            axes = {"num_qo_heads": heads, "qk_dim": head_dim, "vo_dim": v_head_dim}
            planner.emit(component, "mla_ragged_prefill", axes, stage="prefill", tp=tp)
        return
    planner.pending(component, f"attention with {heads} query heads, {kv_heads} KV heads and head_dim {head_dim} != v_head_dim {v_head_dim} fits no MLA layout")


def _latent_kv(planner: Planner, component: Component) -> bool:
    """MLA projects K and V from a compressed latent (`kv_a_proj_with_mqa`, `kv_b_proj`,
    `kv_a_layernorm` beside the attention); only then are the two RadixAttentions the
    absorbed and unabsorbed forms of one attention."""
    return any(c.path.rsplit(".", 1)[-1].startswith(("kv_a_", "kv_b_", "fused_qkv_a_proj")) for c in planner.siblings(component))


def _dsa_indexer(planner: Planner, component: Component) -> Component | None:
    return next((c for c in planner.siblings(component) if c.kind == "attention.dsa_indexer"), None)


def _indexer(planner: Planner, component: Component) -> None:
    heads, dim, topk = (component.value(p) for p in ("index_n_heads", "index_head_dim", "index_topk"))
    if not all(isinstance(x, int) for x in (heads, dim, topk)):
        planner.pending(component, "DSA indexer heads, head dim or top-k could not be resolved")
        return
    axes = {"num_index_heads": heads, "index_head_dim": dim, "topk": topk, "page_size": DSA_INDEXER_PAGE_SIZE}
    planner.emit(component, "dsa_topk_indexer", axes)
    plan_indexer_rope(planner, component)


RULES = {"attention.dsa_indexer": _indexer}
