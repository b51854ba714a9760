"""The flashinfer-trace dataset's own conventions, each with the official file it comes from.

The dataset is the reference for what a definition looks like: its names, layouts,
dtypes and tags. Where the files of one op type agree, the convention is written down
here and new definitions follow it; where they disagree, the choice and why is written
down too. Every source is a file of the last snapshot before the dataset moved to
Hugging Face (flashinfer-ai/flashinfer-bench@e489a246, `flashinfer_trace/definitions/`).
"""

from __future__ import annotations

import fnmatch

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


class Departure(BaseModel):
    """Where this project deliberately departs from the dataset, because the dataset's file
    does not compute what SGLang runs for the model it is tagged with."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    official: str
    """The dataset's names concerned, as an fnmatch pattern with at most one `*`."""
    ours: str | None
    """What is written instead, the same pattern (its `*` stands for the same text); None when
    the name is the same and the dataset's definition is another kernel (a conflict)."""
    what: str
    """What the dataset's file computes, and what SGLang runs instead."""
    evidence: str
    """Where to see it: the official file and the SGLang code."""

    def covers(self, official_name: str) -> bool:
        return fnmatch.fnmatchcase(official_name, self.official)

    def counterpart(self, official_name: str) -> str | None:
        """The name written instead of `official_name`, or None."""
        if self.ours is None or not self.covers(official_name):
            return None
        if "*" not in self.official:
            return self.ours
        head, tail = self.official.split("*")
        return self.ours.replace("*", official_name[len(head) : len(official_name) - len(tail)])


DEPARTURES: tuple[Departure, ...] = (
    Departure(
        official="rmsnorm_h5376",
        ours="gemma_rmsnorm_h5376",
        what="the dataset's rmsnorm_h5376 computes x * w; the model it is tagged for (Gemma 3 27B) runs GemmaRMSNorm, "
        "x * (1 + w), through FlashInfer's gemma_rmsnorm",
        evidence=f"{SNAPSHOT}/rmsnorm/rmsnorm_h5376.json (model:gemma-3-27b, reference x * weight); SGLang 0.5.23 "
        "srt/layers/layernorm.py GemmaRMSNorm._forward_impl calls gemma_rmsnorm, and srt/models/gemma3_causal.py "
        "builds every decoder norm as Gemma3RMSNorm",
    ),
    Departure(
        official="fused_add_rmsnorm_h5376",
        ours="gemma_fused_add_rmsnorm_h5376",
        what="the dataset's fused_add_rmsnorm_h5376 computes (x + r) * w; the model it is tagged for (Gemma 3 27B) runs "
        "gemma_fused_add_rmsnorm, (x + r) * (1 + w)",
        evidence=f"{SNAPSHOT}/rmsnorm/fused_add_rmsnorm_h5376.json (model:gemma-3-27b); SGLang 0.5.23 srt/layers/layernorm.py "
        "GemmaRMSNorm._forward_impl calls gemma_fused_add_rmsnorm when given a residual",
    ),
    Departure(
        official="moe_fp8_block_scale_renorm_topk10_e128_h2048_i512",
        ours=None,
        what="the dataset's file routes over 128 experts (routing_logits [seq_len, 128], no expert offset), labelled "
        "Qwen3-Next at EP=1; Qwen3-Next has 512 experts: at EP=4 each rank routes over all 512 and computes its 128, "
        "so the extraction's definition of this name (routing_logits [seq_len, 512], local_expert_offset) is another "
        "kernel and is reported as a conflict, not written",
        evidence=f"{SNAPSHOT}/moe/moe_fp8_block_scale_renorm_topk10_e128_h2048_i512.json (description 'Qwen3-Next 80B A3B "
        "(EP=1)', E = 128); Qwen/Qwen3-Next-80B-A3B-Instruct config.json num_experts 512 "
        "(tools/model_registry/configs/qwen3-next-80b-a3b.json)",
    ),
)


def departure_for(official_name: str) -> Departure | None:
    """The documented departure concerning the dataset's `official_name`, if any."""
    return next((d for d in DEPARTURES if d.covers(official_name)), None)
