"""Gated Delta Net linear attention (Qwen3-Next): prefill, decode and multi-token (MTP).

Head counts are per GPU (split by TP); the state is in the k-last layout [.., V, K]
that FlashInfer's kernels use, hence the dataset's `_k_last` name suffix. The dtypes
and inputs are the dataset's (`tools/family_conventions.py`): dt_bias float32, the gate
projections a and b bf16, and MTP's scale and intermediate-state buffer; MTP's
reference is written here (`references.gdn_mtp`).
"""

from __future__ import annotations

from typing import Any

import torch

from tools.definition_builder import references
from tools.definition_builder.families.common import _TOKENS, Family, _meta, reference_source
from tools.kernel_spec import KernelSpec

F32 = torch.float32
# gdn_prefill_qk4_v8_d128_k_last.json's constraints (the decode and MTP files add the head-count ones).
PREFILL_CONSTRAINTS = ("len_cu_seqlens == num_seqs + 1", "total_seq_len == cu_seqlens[-1].item()")


def _heads(spec: KernelSpec) -> tuple[int, int, int]:
    return spec.axes["num_q_heads"], spec.axes["num_v_heads"], spec.axes["head_size"]


def _gdn_decode(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.gdn_decode import gated_delta_rule_decode

    q, v, d = _heads(spec)
    b = _TOKENS
    return gated_delta_rule_decode.fi_trace(
        q=_meta(b, 1, q, d), k=_meta(b, 1, q, d), v=_meta(b, 1, v, d), state=_meta(b, v, d, d, dtype=F32),
        A_log=_meta(v, dtype=F32), a=_meta(b, 1, v), dt_bias=_meta(v, dtype=F32), b=_meta(b, 1, v),
    )


def _gdn_mtp(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.gdn_decode import gated_delta_rule_mtp

    q, v, d = _heads(spec)
    b, t, pool = 5, 3, 11
    raw = gated_delta_rule_mtp.fi_trace(
        q=_meta(b, t, q, d), k=_meta(b, t, q, d), v=_meta(b, t, v, d),
        initial_state=_meta(pool, v, d, d, dtype=F32), initial_state_indices=_meta(b, dtype=torch.int32),
        A_log=_meta(v, dtype=F32), a=_meta(b, t, v), dt_bias=_meta(v, dtype=F32), b=_meta(b, t, v),
        intermediate_states_buffer=_meta(pool, t, v, d, d, dtype=F32),
    )
    # FlashInfer's template reference normalises q and k (use_qk_l2norm); the dataset's
    # MTP files, like its decode files, run the recurrence on q and k as given.
    raw["inputs"]["intermediate_states_buffer"]["description"] = "Receives the state after each token, per batch row [b, t] (for rollback)."
    raw["outputs"]["final_state"]["description"] = "The state pool, unchanged: verification does not commit the state (SGLang: disable_state_update=True)."
    return {**raw, "reference": reference_source(references.gdn_mtp)}


def _gdn_prefill(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.gdn_prefill import chunk_gated_delta_rule

    q, v, d = _heads(spec)
    t = _TOKENS
    # The template's a and b come from the API's g and beta; its reference, like the
    # dataset's files, takes the gate projections a and b (bf16) with A_log and dt_bias.
    raw = chunk_gated_delta_rule.fi_trace(
        q=_meta(t, q, d), k=_meta(t, q, d), v=_meta(t, v, d), g=_meta(t, v), beta=_meta(t, v),
        cu_seqlens=_meta(3, dtype=torch.int64), initial_state=_meta(2, v, d, d, dtype=F32),
        A_log=_meta(v, dtype=F32), dt_bias=_meta(v, dtype=F32),
    )
    return {**raw, "constraints": list(PREFILL_CONSTRAINTS)}


AXES = ("num_q_heads", "num_v_heads", "head_size")

FAMILIES = (
    Family("gdn_decode", AXES, _gdn_decode, "Gated Delta Net single-token decode"),
    Family("gdn_mtp", AXES, _gdn_mtp, "Gated Delta Net multi-token (MTP) decode", reference_name="gdn_mtp"),
    Family("gdn_prefill", AXES, _gdn_prefill, "Gated Delta Net chunked prefill"),
)
