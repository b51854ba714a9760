"""Per kernel family: the dataset's convention for its definitions, with its source.

One entry per family of the definition builder (`tools/definition_builder/families/`).
`signature` says in words what a new definition of the family looks like (the family's
code builds exactly that, and tests/tools/test_dataset_conventions.py checks it against
every official file the catalog models produce); the tag fields say which tags it
carries besides `status:`/`model:` and the parallel ones (`dataset_conventions.TAGS`).
`source` names the official files the convention is read from, or says that the dataset
has none; `choice` records where the dataset disagrees with itself, with FlashInfer or
with SGLang, and what the builder does about it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

SNAPSHOT = "flashinfer-ai/flashinfer-bench@e489a246:flashinfer_trace/definitions"


class FamilyConvention(BaseModel):
    """How the dataset writes the definitions of one kernel family."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    family: str
    """The definition builder's family."""
    op_type: str
    name_prefix: str
    """How the family's definition names begin (the rest are its constants)."""
    stage: str | None
    """The `stage:` tag (`prefill`, `decode`, `mtp`, `indexer`), or None for none."""
    descriptive: tuple[str, ...] = ()
    """Tags describing the kernel (`fused`, `layout:k-last`, `sparse:topk`, ...), in file order."""
    fi_api: str | None
    """The `fi_api:` tag as the dataset spells it, or None where its files carry none."""
    parallel: tuple[str, ...] | None = None
    """Parallelism tags, where the family carries other ones than its op type."""
    signature: str
    """The convention: axes in order, inputs and outputs, dtypes, constraints, reference."""
    source: str
    """The official files it is read from."""
    choice: str | None = None
    """Where the dataset disagrees with itself, FlashInfer or SGLang: what is done and why."""


def _files(op_type: str, *names: str) -> str:
    return "; ".join(f"{SNAPSHOT}/{op_type}/{name}.json" for name in names)


_PAGED_LAST_PAGE = (
    "At page size > 1 an int32 input kv_last_page_len [batch_size] follows kv_indices (tokens of sequence b: its full "
    "pages, then kv_last_page_len[b] tokens of its last page)"
)
_GQA_TENSORS = "q, k_cache/v_cache [num_pages, page_size, num_kv_heads, head_dim] bf16, int32 indptr/indices, sm_scale float32; outputs output bf16 and base-2 lse float32"
_MLA_TENSORS = "q_nope/q_pe, ckv_cache [num_pages, page_size, head_dim_ckv] and kpe_cache bf16, int32 indptr/indices, sm_scale; outputs output bf16, base-2 lse float32"
_MOE_INPUTS = (
    "hidden_states fp8 [seq_len, hidden_size], hidden_states_scale float32 [num_hidden_blocks, seq_len], gemm1_weights fp8 "
    "[num_local_experts, gemm1_out_size, hidden_size] and gemm1_weights_scale, gemm2_weights fp8 [num_local_experts, hidden_size, "
    "intermediate_size] and gemm2_weights_scale (128-blocks); output bf16 [seq_len, hidden_size]; constraints "
    "gemm1_weights.shape[1] == 2 * intermediate_size, gemm2_weights.shape[1] == hidden_size, gemm2_weights.shape[2] == intermediate_size"
)

FAMILIES: dict[str, FamilyConvention] = {
    c.family: c
    for c in (
        FamilyConvention(
            family="rmsnorm", op_type="rmsnorm", name_prefix="rmsnorm_h", stage=None, fi_api="flashinfer.norm.rmsnorm",
            signature="axes batch_size, hidden_size; hidden_states and weight bf16 -> output bf16",
            source=_files("rmsnorm", "rmsnorm_h4096", "rmsnorm_h7168"),
        ),
        FamilyConvention(
            family="fused_add_rmsnorm", op_type="rmsnorm", name_prefix="fused_add_rmsnorm_h", stage=None, descriptive=("fused",),
            fi_api="flashinfer.norm.fused_add_rmsnorm",
            signature="axes batch_size, hidden_size; hidden_states, residual, weight bf16 -> output bf16 (the in-place residual is not an output)",
            source=_files("rmsnorm", "fused_add_rmsnorm_h4096", "fused_add_rmsnorm_h7168"),
        ),
        FamilyConvention(
            family="gemma_rmsnorm", op_type="rmsnorm", name_prefix="gemma_rmsnorm_h", stage=None, fi_api="flashinfer.norm.gemma_rmsnorm",
            signature="as rmsnorm; the reference computes x / rms(x) * (1 + weight)",
            source="no official file in the snapshot; tags as rmsnorm",
            choice=(
                "Deliberate departure: the snapshot tags rmsnorm_h5376 (x * w) with model:gemma-3-27b, but Gemma's RMSNorm "
                "computes x * (1 + w) (SGLang's GemmaRMSNorm, FlashInfer's gemma_rmsnorm). Gemma models get gemma_rmsnorm_* "
                "definitions; rmsnorm_h5376 is not claimed for them."
            ),
        ),
        FamilyConvention(
            family="gemma_fused_add_rmsnorm", op_type="rmsnorm", name_prefix="gemma_fused_add_rmsnorm_h", stage=None, descriptive=("fused",),
            fi_api="flashinfer.norm.gemma_fused_add_rmsnorm",
            signature="as fused_add_rmsnorm, with Gemma's x / rms(x) * (1 + weight)",
            source="no official file in the snapshot; tags as fused_add_rmsnorm",
            choice="Deliberate departure, as gemma_rmsnorm: fused_add_rmsnorm_h5376 (tagged gemma-3-27b) computes x * w.",
        ),
        FamilyConvention(
            family="layernorm", op_type="layernorm", name_prefix="layernorm_h", stage=None, fi_api="flashinfer.norm.layernorm",
            signature="FlashInfer's layernorm template: hidden_states bf16, weight and bias float32 -> output bf16",
            source="no official file; tags as rmsnorm",
        ),
        FamilyConvention(
            family="gemm", op_type="gemm", name_prefix="gemm_n", stage=None, fi_api=None,
            signature="axes M (var), N, K; A [M, K] and B [N, K] float16 -> C [M, N] float16; C = A @ B.T (B as nn.Linear stores its weight); no constraints",
            source=_files("gemm", "gemm_n6144_k4096", "gemm_n4096_k14336") + " (all 32 files: float16, [N, K], no fi_api tag)",
            choice=(
                "float16 whatever dtype the model serves in: the dataset's GEMMs are one kernel per shape, written in float16. "
                "FlashInfer's mm_bf16 template (B as a [K, N] column-major view, bf16) is not used."
            ),
        ),
        FamilyConvention(
            family="gemm_fp8_block_scale", op_type="gemm_fp8", name_prefix="gemm_fp8_nt_groupwise_n", stage=None,
            descriptive=("quantization:float8_e4m3fn",), fi_api="flashinfer.gemm.gemm_fp8_nt_groupwise",
            signature="FlashInfer's gemm_fp8_nt_groupwise template: a [M, K] and b [N, K] fp8 with 128-block float32 scales -> bf16",
            source="no official file; the quantization tag as the FP8 MoE files spell it",
        ),
        FamilyConvention(
            family="gqa_paged_decode", op_type="gqa_paged", name_prefix="gqa_paged_decode_", stage="decode",
            fi_api="flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper",
            signature=(
                "axes batch_size, num_qo_heads, num_kv_heads, head_dim, num_pages, page_size, len_indptr, num_kv_indices; inputs q "
                f"[batch_size, ...], k_cache, v_cache, kv_indptr, kv_indices, sm_scale; {_GQA_TENSORS}. {_PAGED_LAST_PAGE}; "
                "constraints len_indptr == batch_size + 1, num_kv_indices == kv_indptr[-1].item()"
            ),
            source=_files("gqa_paged", "gqa_paged_decode_h32_kv8_d128_ps1", "gqa_paged_decode_h32_kv8_d128_ps64"),
            choice=(
                "At page size 64, 5 files list page_size before num_pages (h16_kv2, h20_kv4, h24_kv4, h24_kv8, h32_kv16) and 3 after "
                "(h32_kv4, h32_kv8, h6_kv1), as all 9 page-size-1 files do (12 of the 17 decode files); new definitions keep that "
                "order at every page size; the 5 are listed in DEPARTURES."
            ),
        ),
        FamilyConvention(
            family="gqa_paged_prefill", op_type="gqa_paged", name_prefix="gqa_paged_prefill_causal_", stage="prefill",
            fi_api="flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper",
            signature=(
                "axes num_qo_heads, num_kv_heads, head_dim, page_size, len_indptr, total_q, num_kv_indices, num_pages (and batch_size, "
                f"last, at page size > 1); inputs q, k_cache, v_cache, qo_indptr, kv_indptr, kv_indices, sm_scale; {_GQA_TENSORS}. "
                f"{_PAGED_LAST_PAGE}; causal, aligned to the end of each sequence; constraints total_q == qo_indptr[-1].item(), "
                "num_kv_indices == kv_indptr[-1].item()"
            ),
            source=_files("gqa_paged", "gqa_paged_prefill_causal_h32_kv8_d128_ps1", "gqa_paged_prefill_causal_h32_kv8_d128_ps64"),
            choice=(
                "At page size 64 the files disagree: 4 take kv_last_page_len [batch_size] with a batch_size axis (h32_kv8, h32_kv4, "
                "h6_kv1, h5_kv1), 6 take it over [len_indptr] with no batch_size axis (h16_kv1, h16_kv2, h20_kv4, h24_kv4, h24_kv8, "
                "h32_kv16). New definitions take [batch_size]: the kernel reads one length per sequence, as in the decode files and "
                "mla_paged_prefill_causal_h16_ckv512_kpe64_ps64. FlashInfer's templates have no kv_last_page_len (whole pages only): "
                "the page-size > 1 references are written here."
            ),
        ),
        FamilyConvention(
            family="gqa_ragged_prefill", op_type="gqa_ragged", name_prefix="gqa_ragged_prefill_causal_", stage="prefill",
            fi_api="flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper",
            signature="axes num_qo_heads, num_kv_heads, head_dim, len_indptr, total_q, total_kv; q, k, v bf16, qo_indptr, kv_indptr, sm_scale -> output, lse",
            source=_files("gqa_ragged", "gqa_ragged_prefill_causal_h32_kv8_d128"),
        ),
        FamilyConvention(
            family="mla_paged_decode", op_type="mla_paged", name_prefix="mla_paged_decode_", stage="decode",
            fi_api="flashinfer.mla.BatchMLAPagedAttentionWrapper",
            signature=(
                "axes batch_size, num_qo_heads, head_dim_ckv, head_dim_kpe, page_size, num_pages, len_indptr, num_kv_indices; inputs "
                f"q_nope, q_pe, ckv_cache, kpe_cache, kv_indptr, kv_indices, sm_scale; {_MLA_TENSORS}. {_PAGED_LAST_PAGE}"
            ),
            source=_files("mla_paged", "mla_paged_decode_h16_ckv512_kpe64_ps1", "mla_paged_decode_h16_ckv512_kpe64_ps64"),
            choice="FlashInfer's MLA templates take whole pages: the page-size > 1 reference is written here.",
        ),
        FamilyConvention(
            family="mla_paged_prefill", op_type="mla_paged", name_prefix="mla_paged_prefill_causal_", stage="prefill",
            fi_api="flashinfer.mla.BatchMLAPagedAttentionWrapper",
            signature=(
                "axes num_qo_heads, head_dim_ckv, head_dim_kpe, page_size, total_q, num_pages, len_indptr, num_kv_indices (and "
                f"batch_size, last, at page size > 1); inputs q_nope, q_pe, ckv_cache, kpe_cache, qo_indptr, kv_indptr, kv_indices, "
                f"sm_scale; {_MLA_TENSORS}. {_PAGED_LAST_PAGE}; causal"
            ),
            source=_files("mla_paged", "mla_paged_prefill_causal_h16_ckv512_kpe64_ps1", "mla_paged_prefill_causal_h16_ckv512_kpe64_ps64"),
            choice="As mla_paged_decode: the page-size > 1 reference is written here.",
        ),
        FamilyConvention(
            family="mla_ragged_prefill", op_type="mla_ragged", name_prefix="mla_ragged_prefill_causal_", stage="prefill",
            fi_api="flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper",
            signature=(
                "axes num_qo_heads, num_kv_heads (= num_qo_heads), qk_dim, vo_dim, total_q, total_kv, len_indptr; q, k [.., qk_dim], "
                "v [.., vo_dim] bf16, qo_indptr, kv_indptr, sm_scale -> output [total_q, num_qo_heads, vo_dim], lse; causal"
            ),
            source=_files("mla_ragged", "mla_ragged_prefill_causal_h16_qk192_vo128", "mla_ragged_prefill_causal_h8_qk192_vo128"),
        ),
        FamilyConvention(
            family="dsa_sparse_attention", op_type="dsa_paged", name_prefix="dsa_sparse_attention_", stage=None, descriptive=("sparse:topk",),
            fi_api="flashinfer.decode.trtllm_batch_decode_with_kv_cache_mla",
            signature=(
                "axes num_tokens, num_qo_heads, head_dim_ckv, head_dim_kpe, page_size, topk, num_pages; q_nope, q_pe, ckv_cache, "
                "kpe_cache, sparse_indices int32 [num_tokens, topk] (global slots, -1 pads), sm_scale -> output, lse"
            ),
            source=_files("dsa_paged", "dsa_sparse_attention_h16_ckv512_kpe64_topk2048_ps1", "dsa_sparse_attention_h16_ckv512_kpe64_topk2048_ps64"),
            choice="No stage tag (the kernel serves prefill and decode alike), as in both files.",
        ),
        FamilyConvention(
            family="dsa_topk_indexer", op_type="dsa_paged", name_prefix="dsa_topk_indexer_", stage="indexer",
            descriptive=("sparse:topk", "quant:fp8"), fi_api=None, parallel=(),
            signature=(
                "axes batch_size, num_index_heads, index_head_dim, page_size, topk, max_num_pages, num_pages, kv_cache_num_heads, "
                "head_dim_with_scale; q_index_fp8, k_index_cache_fp8 (int8, packed fp8 keys and float32 scales per page), weights, "
                "seq_lens, block_table -> topk_indices int32; constraint topk <= max_num_pages * page_size"
            ),
            source=_files("dsa_paged", "dsa_topk_indexer_fp8_h64_d128_topk2048_ps64"),
            choice="No fi_api and no tp: tag, as the file (the indexer's 64 heads are not split by TP).",
        ),
        FamilyConvention(
            family="moe_fp8_block_scale", op_type="moe", name_prefix="moe_fp8_block_scale_", stage=None,
            descriptive=("quantization:float8_e4m3fn",), fi_api="flashinfer.fused_moe.trtllm_fp8_block_scale_moe",
            signature=(
                "DeepSeek routing: axes seq_len, num_experts, num_local_experts, hidden_size, intermediate_size, gemm1_out_size, top_k, "
                "num_hidden_blocks, num_intermediate_blocks, num_gemm1_out_blocks; inputs routing_logits float32 [seq_len, num_experts], "
                "routing_bias bf16 [num_experts], the expert tensors, local_expert_offset int32 and routed_scaling_factor float32 "
                "scalars; top_k, n_group and topk_group are constants of the reference (the name carries ng/kg). Other routings "
                "(renormalize, default, llama4, ...): no num_experts axis, routing_logits bf16 [seq_len, num_local_experts], no bias "
                "and no scalars at EP=1; at EP > 1 a num_experts axis (after seq_len), routing_logits over num_experts and a "
                f"local_expert_offset scalar (last). Both: {_MOE_INPUTS}"
            ),
            source=(
                _files("moe", "moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e384_h7168_i2048", "moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e48_h7168_i2048")
                + " (DeepSeek routing); "
                + _files("moe", "moe_fp8_block_scale_renorm_topk8_e128_h2048_i768", "moe_fp8_block_scale_renorm_topk8_e128_h4096_i1536")
                + " (renormalize routing, EP=1)"
            ),
            choice=(
                "The dataset has no file routing over more experts than it runs except with DeepSeek routing: at EP > 1 the other "
                "routings take the DeepSeek files' global form (num_experts, local_expert_offset). Routings the dataset has no file "
                "of (default, llama4, renormalize_naive, topk) take the renormalize form: they have no bias and no scaling either. "
                "The references wrap FlashInfer's per-routing template reference with the constants baked in."
            ),
        ),
        FamilyConvention(
            family="gdn_decode", op_type="gdn", name_prefix="gdn_decode_", stage="decode", descriptive=("layout:k-last",),
            fi_api="flashinfer.gdn.gated_delta_rule_decode",
            signature=(
                "axes batch_size, seq_len (1), num_q_heads, num_k_heads, num_v_heads, head_size; q, k, v bf16 [batch_size, seq_len, "
                "heads, head_size], state float32 [batch_size, num_v_heads, V, K], A_log float32, a bf16, dt_bias float32, b bf16, "
                "scale -> output bf16, new_state float32; constraints on the head counts"
            ),
            source=_files("gdn", "gdn_decode_qk4_v8_d128_k_last", "gdn_decode_qk16_v32_d128_k_last"),
            choice=(
                "dt_bias is float32 as in the files (SGLang keeps it in the model dtype; the kernel takes either). The recurrence "
                "runs on q and k as given: SGLang calls the decode and MTP kernels with use_qk_l2norm=True, so the kernel matches "
                "these definitions when called with use_qk_l2norm=False (or on normalised q, k)."
            ),
        ),
        FamilyConvention(
            family="gdn_mtp", op_type="gdn", name_prefix="gdn_mtp_", stage="mtp", descriptive=("layout:k-last",), fi_api=None,
            signature=(
                "axes batch_size, seq_len (var, > 1), num_q_heads, num_k_heads, num_v_heads, head_size, pool_size; inputs as decode "
                "with initial_state [pool_size, ...] and initial_state_indices int32, then scale float32 and intermediate_states_buffer "
                "float32 [pool_size, seq_len, num_v_heads, V, K] -> output, final_state (the pool, unchanged: SGLang verifies with "
                "disable_state_update=True)"
            ),
            source=_files("gdn", "gdn_mtp_qk4_v8_d128_k_last", "gdn_mtp_qk16_v32_d128_k_last"),
            choice=(
                "Only stage:mtp and no fi_api, as the files. The reference is written here: FlashInfer's template normalises q and k "
                "(the files do not). scale None or 0 means 1/sqrt(head_size), as the files (FlashInfer's MTP kernel takes 0 "
                "literally). The buffer is written per batch row, as FlashInfer's kernel does and SGLang reads it; the official "
                "reference writes it per pool slot. Neither is an output: results are the same."
            ),
        ),
        FamilyConvention(
            family="gdn_prefill", op_type="gdn", name_prefix="gdn_prefill_", stage="prefill", descriptive=("layout:k-last",),
            fi_api="flashinfer.gdn.chunk_gated_delta_rule",
            signature=(
                "axes total_seq_len, num_seqs, num_q_heads, num_k_heads, num_v_heads, head_size, len_cu_seqlens; q, k, v bf16, state "
                "float32, A_log float32, a bf16, dt_bias float32, b bf16, cu_seqlens int64, scale -> output, new_state; constraints "
                "exactly len_cu_seqlens == num_seqs + 1, total_seq_len == cu_seqlens[-1].item()"
            ),
            source=_files("gdn", "gdn_prefill_qk4_v8_d128_k_last", "gdn_prefill_qk16_v32_d128_k_last"),
            choice="a and b are the gate projections (bf16), as in decode; FlashInfer's template types them as the precomputed float32 gates.",
        ),
        FamilyConvention(
            family="kda_prefill", op_type="kda", name_prefix="kda_prefill_", stage="prefill", descriptive=("layout:k-last",),
            fi_api="flashinfer.kda.recurrent_kda",
            signature="FlashInfer's recurrent_kda template, completed with SGLang's call (see kda.py); named like the gdn files",
            source="no official file; tags as gdn",
        ),
        FamilyConvention(
            family="kda_decode", op_type="kda", name_prefix="kda_decode_", stage="decode", descriptive=("layout:k-last",),
            fi_api="flashinfer.kda_decode.recurrent_kda",
            signature="FlashInfer's recurrent_kda decode template, completed with SGLang's call; named like the gdn files",
            source="no official file; tags as gdn",
        ),
        FamilyConvention(
            family="rope_with_cos_sin_cache", op_type="rope", name_prefix="rope_with_cos_sin_cache_", stage=None,
            fi_api="flashinfer.rope.apply_rope_with_cos_sin_cache_inplace",
            signature=(
                "axes num_tokens, num_qo_heads (var), num_kv_heads (var), head_size, rotary_dim, max_seq_len; q, k bf16 [num_tokens, "
                "heads, head_size], cos_sin_cache float32 [max_seq_len, rotary_dim], positions int64 -> q_out, k_out"
            ),
            source=_files("rope", "rope_with_cos_sin_cache_neox_style_d128_rd64") + " (other head sizes, rotary dims and GPT-J style: the same form)",
        ),
        *(
            FamilyConvention(
                family=f"{kind}_sampling_from_probs", op_type="sampling", name_prefix=f"{kind}_sampling_from_probs_v", stage=None,
                fi_api=f"flashinfer.sampling.{kind}_sampling_from_probs",
                signature="axes batch_size, vocab_size; probs float32 (and top_k int32 / top_p float32 per row) -> samples int64",
                source=_files("sampling", f"{kind}_sampling_from_probs_v128256"),
            )
            for kind in ("top_k", "top_p", "top_k_top_p")
        ),
    )
}


def family_convention(family: str) -> FamilyConvention | None:
    return FAMILIES.get(family)


def family_of_name(name: str) -> FamilyConvention | None:
    """The family whose names `name` has, by the longest matching name prefix."""
    matches = [c for c in FAMILIES.values() if name.startswith(c.name_prefix)]
    return max(matches, key=lambda c: len(c.name_prefix)) if matches else None
