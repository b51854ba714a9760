"""Gated Delta Net linear attention (Qwen3-Next): prefill, decode and multi-token (MTP).

Head counts are per GPU (split by TP); the state is in the k-last layout [.., V, K]
that FlashInfer's kernels use, hence the dataset's `_k_last` name suffix.
"""

from __future__ import annotations

from typing import Any

import torch

from tools.definition_builder.families.common import _TOKENS, Family, _meta
from tools.kernel_spec import KernelSpec

F32 = torch.float32


def _heads(spec: KernelSpec) -> tuple[int, int, int]:
    return spec.axes["num_q_heads"], spec.axes["num_v_heads"], spec.axes["head_size"]


def _gdn_decode(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.gdn_decode import gated_delta_rule_decode

    q, v, d = _heads(spec)
    b = _TOKENS
    return gated_delta_rule_decode.fi_trace(
        q=_meta(b, 1, q, d), k=_meta(b, 1, q, d), v=_meta(b, 1, v, d), state=_meta(b, v, d, d, dtype=F32),
        A_log=_meta(v, dtype=F32), a=_meta(b, 1, v), dt_bias=_meta(v), b=_meta(b, 1, v),
    )


def _gdn_mtp(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.gdn_decode import gated_delta_rule_mtp

    q, v, d = _heads(spec)
    b, t, pool = 5, 3, 11
    return gated_delta_rule_mtp.fi_trace(
        q=_meta(b, t, q, d), k=_meta(b, t, q, d), v=_meta(b, t, v, d),
        initial_state=_meta(pool, v, d, d, dtype=F32), initial_state_indices=_meta(b, dtype=torch.int32),
        A_log=_meta(v, dtype=F32), a=_meta(b, t, v), dt_bias=_meta(v), b=_meta(b, t, v),
    )


def _gdn_prefill(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.gdn_prefill import chunk_gated_delta_rule

    q, v, d = _heads(spec)
    t = _TOKENS
    # A_log/dt_bias are not API arguments (SGLang folds them into g) but the template's
    # reference takes them: pass their dtypes for the trace.
    return chunk_gated_delta_rule.fi_trace(
        q=_meta(t, q, d), k=_meta(t, q, d), v=_meta(t, v, d), g=_meta(t, v, dtype=F32), beta=_meta(t, v, dtype=F32),
        cu_seqlens=_meta(3, dtype=torch.int64), initial_state=_meta(2, v, d, d, dtype=F32),
        A_log=_meta(v, dtype=F32), dt_bias=_meta(v),
    )


AXES = ("num_q_heads", "num_v_heads", "head_size")

FAMILIES = (
    Family("gdn_decode", AXES, _gdn_decode, "Gated Delta Net single-token decode"),
    Family("gdn_mtp", AXES, _gdn_mtp, "Gated Delta Net multi-token (MTP) decode"),
    Family("gdn_prefill", AXES, _gdn_prefill, "Gated Delta Net chunked prefill"),
)
