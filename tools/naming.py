"""Definition names and tags, following the flashinfer-trace dataset.

FlashInfer's trace templates name a definition from their prefix and const axes
(`gqa_ragged_h32_kv8_d128`); the dataset uses longer names that say the stage and mask
(`gqa_ragged_prefill_causal_h32_kv8_d128`). `dataset_name` maps one onto the other.
"""

from __future__ import annotations

import re

# (template-name pattern, dataset-name replacement), tried in order; first match wins.
_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^gqa_ragged_(h\d+_kv\d+_d\d+)$"), r"gqa_ragged_prefill_causal_\1"),
    (re.compile(r"^gqa_paged_prefill_(h\d+_kv\d+_d\d+_ps\d+)$"), r"gqa_paged_prefill_causal_\1"),
    (re.compile(r"^mla_paged_prefill_(h\d+_ckv\d+_kpe\d+_ps\d+)$"), r"mla_paged_prefill_causal_\1"),
    (re.compile(r"^top_k_top_p_sampling_(v\d+)$"), r"top_k_top_p_sampling_from_probs_\1"),
    (re.compile(r"^top_k_sampling_(v\d+)$"), r"top_k_sampling_from_probs_\1"),
    (re.compile(r"^top_p_sampling_(v\d+)$"), r"top_p_sampling_from_probs_\1"),
    # The dataset has no kda op type yet: named like its gdn definitions (stage, q/k heads,
    # v heads, head dim, k-last state). SGLang calls the phase-neutral facade for prefill
    # only (decode goes through the kda_decode facade), so it names the prefill kernel.
    (re.compile(r"^recurrent_kda_q(\d+)_(v\d+_d\d+)$"), r"kda_prefill_qk\1_\2_k_last"),
    (re.compile(r"^recurrent_kda_decode_q(\d+)_(v\d+_d\d+)$"), r"kda_decode_qk\1_\2_k_last"),
    (re.compile(r"^moe_fp8_block_scale_renormalize_routing_(topk\d+_e\d+_h\d+_i\d+)$"), r"moe_fp8_block_scale_renorm_\1"),
    (re.compile(r"^(gdn_(?:decode|prefill|mtp)_qk\d+_v\d+_d\d+)$"), r"\1_k_last"),
)


def dataset_name(template_name: str) -> str:
    """The dataset's name for a definition the trace template named `template_name`."""
    for pattern, replacement in _RENAMES:
        if pattern.match(template_name):
            return pattern.sub(replacement, template_name)
    return template_name


# Tag prefixes the agent owns: set from the extraction context, never from a template.
STATUS_TAG_PREFIX = "status:"
MODEL_TAG_PREFIX = "model:"


def model_tag(slug: str) -> str:
    return f"{MODEL_TAG_PREFIX}{slug}"


def tp_tag(tp: int) -> str:
    return f"tp:{tp}"


def ep_tag(ep: int) -> str:
    return f"ep:{ep}"


def stage_tag(stage: str) -> str:
    return f"stage:{stage}"


def fi_api_tag(api: str) -> str:
    return f"fi_api:{api}"


def quantization_tag(scheme: str) -> str:
    return f"quantization:{scheme}"


def status_tag(status: str) -> str:
    return f"{STATUS_TAG_PREFIX}{status}"
