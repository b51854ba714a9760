"""The flashinfer-trace dataset's own conventions, each with the official file it comes from.

The dataset is the reference for what a definition looks like: its names, layouts,
dtypes and tags. Where the files of one op type agree, the convention is written down
here and new definitions follow it; where they disagree, the choice and why is written
down too. Every source is a file of the last snapshot before the dataset moved to
Hugging Face (flashinfer-ai/flashinfer-bench@e489a246, `flashinfer_trace/definitions/`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

SNAPSHOT = "flashinfer-ai/flashinfer-bench@e489a246:flashinfer_trace/definitions"


class TagConvention(BaseModel):
    """Which parallelism tags the dataset's definitions of one op type carry."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    op_type: str
    parallel: tuple[str, ...]
    """Tag prefixes (`tp:`, `ep:`) the op type's files carry; the others carry none."""
    source: str
    """Official files showing it."""


TAGS: dict[str, TagConvention] = {
    c.op_type: c
    for c in (
        TagConvention(op_type="gqa_paged", parallel=("tp:",), source=f"{SNAPSHOT}/gqa_paged/gqa_paged_decode_h32_kv8_d128_ps64.json (tp:1; 37 of 37 files)"),
        TagConvention(op_type="gqa_ragged", parallel=("tp:",), source=f"{SNAPSHOT}/gqa_ragged/gqa_ragged_prefill_causal_h32_kv8_d128.json (9 of 9 files)"),
        TagConvention(op_type="mla_paged", parallel=("tp:",), source=f"{SNAPSHOT}/mla_paged/mla_paged_decode_h16_ckv512_kpe64_ps1.json (6 of 6 files with stage tags)"),
        TagConvention(op_type="mla_ragged", parallel=("tp:",), source=f"{SNAPSHOT}/mla_ragged/mla_ragged_prefill_causal_h16_qk192_vo128.json"),
        TagConvention(op_type="dsa_paged", parallel=("tp:",), source=f"{SNAPSHOT}/dsa_paged/dsa_sparse_attention_h16_ckv512_kpe64_topk2048_ps1.json"),
        TagConvention(op_type="gdn", parallel=("tp:",), source=f"{SNAPSHOT}/gdn/gdn_decode_qk4_v8_d128_k_last.json (9 of 9 files)"),
        TagConvention(op_type="mamba_ssu", parallel=("tp:",), source=f"{SNAPSHOT}/mamba_ssu/mamba_ssu_decode_h64_d64_s128_ng4.json"),
        TagConvention(op_type="moe", parallel=("ep:", "tp:"), source=f"{SNAPSHOT}/moe/moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e384_h7168_i2048.json (ep:1, tp:8)"),
        TagConvention(op_type="gemm", parallel=(), source=f"{SNAPSHOT}/gemm/gemm_n6144_k4096.json (no tp: tag in any of the 32 files)"),
        TagConvention(op_type="rmsnorm", parallel=(), source=f"{SNAPSHOT}/rmsnorm/rmsnorm_h4096.json (none of the 15 files)"),
        TagConvention(op_type="sampling", parallel=(), source=f"{SNAPSHOT}/sampling/top_k_sampling_from_probs_v128256.json (none of the 21 files)"),
        TagConvention(op_type="rope", parallel=(), source=f"{SNAPSHOT}/rope/rope_with_cos_sin_cache_neox_style_d128_rd64.json"),
    )
}


def parallel_tag_prefixes(op_type: str) -> tuple[str, ...]:
    """The parallelism tags a definition of `op_type` carries; op types the dataset has no
    files of yet (kda, layernorm) keep both, as the nearest families do."""
    convention = TAGS.get(op_type)
    return convention.parallel if convention else ("tp:", "ep:")
