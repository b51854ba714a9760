"""Kimi Delta Attention (Kimi Linear's KDA layers): prefill and decode.

SGLang's FlashInfer KDA path calls `flashinfer.kda.recurrent_kda` for prefill (packed
sequences, `cu_seqlens`, beta as a logit) and the decode facade
`flashinfer.kda_decode.recurrent_kda` for decode (beta already through its sigmoid);
both with the raw gate activated in the kernel from `A_log` and `dt_bias`, q/k
L2-normalised in the kernel, and a bf16 state pool `[slots, HV, V, K]` indexed by
`ssm_state_indices` and updated in place. SGLang only allows that path with
`--mamba-ssm-dtype bfloat16`, hence the bf16 state the template also declares.

The templates give the name, op type, axes and most tensors; they omit what SGLang's
call adds (`A_log`, `dt_bias`, `cu_seqlens`) and have no reference, so those are added
here and the reference comes from `kda_references.py`. Head counts are per GPU (split
by TP); the state is k-last, as in the gdn family, hence the `_k_last` name suffix
(`naming.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from tools.definition_builder import kda_references
from tools.definition_builder.families.common import _PAGES, _TOKENS, Family, _meta, reference_source
from tools.kernel_spec import KernelSpec

F32, INT32 = torch.float32, torch.int32

_GATE_INPUTS = {
    "A_log": {"shape": ["num_q_heads"], "dtype": "float32", "description": "Log decay rate per query head: decay = exp(-exp(A_log) * softplus(g + dt_bias))."},
    "dt_bias": {"shape": ["num_q_heads", "head_dim"], "dtype": "float32", "description": "Gate bias per query head and key channel (SGLang passes it flat, [H*K])."},
}
_DESCRIPTIONS = {
    "g": "Raw per-key-channel gate, activated in the kernel (use_gate_in_kernel): log decay = -exp(A_log) * softplus(g + dt_bias).",
    "initial_state": "Recurrent state pool in k-last layout [slots, HV, V, K], read at each sequence's slot.",
    "scale": "Query scale applied after L2 normalisation; 1/sqrt(head_dim) when 0 (SGLang passes None).",
}
_FINAL_STATE = "The state pool after the call: each sequence's slot holds its final state (the kernel updates initial_state in place)."


def _heads(spec: KernelSpec) -> tuple[int, int, int]:
    return spec.axes["num_q_heads"], spec.axes["num_v_heads"], spec.axes["head_dim"]


def _complete(
    raw: dict[str, Any], *, stage: str, reference: Callable, description: str, beta: str, slots: str, axes: dict, inputs: dict, constraints: list[str]
) -> dict[str, Any]:
    """The template's trace plus what SGLang's call adds: one stage, gate inputs, reference."""
    # The prefill facade advertises both stages; each definition here serves one.
    raw["tags"] = [t for t in raw["tags"] if not t.startswith("stage:") or t == f"stage:{stage}"]
    raw["description"] = description
    raw["axes"].update({"num_sequences": {"type": "var", "description": "Sequences in the batch, one state slot each."}, **axes})
    raw["inputs"].update({**_GATE_INPUTS, **inputs})
    for name, text in {**_DESCRIPTIONS, "beta": beta, "ssm_state_indices": slots}.items():
        raw["inputs"][name]["description"] = text
    raw["outputs"]["final_state"]["description"] = _FINAL_STATE
    # The checkpoint axes belong to radix-cache snapshots, which these definitions leave out.
    raw["constraints"] = [c for c in raw.get("constraints", []) if "checkpoint" not in c] + constraints
    raw["reference"] = reference_source(kda_references.kda_sequence, reference)
    return raw


def _kda_prefill(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.kda import recurrent_kda

    h, hv, d = _heads(spec)
    raw = recurrent_kda.fi_trace(
        q=_meta(1, _TOKENS, h, d), k=_meta(1, _TOKENS, h, d), v=_meta(1, _TOKENS, hv, d), g=_meta(1, _TOKENS, hv, d), beta=_meta(1, _TOKENS, hv),
        initial_state=_meta(_PAGES, hv, d, d), ssm_state_indices=_meta(2, dtype=INT32),
    )
    return _complete(
        raw,
        stage="prefill",
        reference=kda_references.kda_prefill,
        description=(
            "Kimi Delta Attention prefill over packed sequences (one batch row, cu_seqlens), as SGLang calls "
            "flashinfer.kda.recurrent_kda: per-key-channel gate -exp(A_log) * softplus(g + dt_bias) computed in the "
            "kernel, q/k L2-normalised in the kernel, beta a logit, bf16 state pool in k-last layout [slots, HV, V, K]."
        ),
        beta="Delta-rule update rate as a logit: the kernel applies the sigmoid (beta_is_logit).",
        slots="State-pool slot each sequence starts from and writes its final state to.",
        axes={"len_cu_seqlens": {"type": "var", "description": "Length of cu_seqlens (num_sequences + 1)."}},
        inputs={"cu_seqlens": {"shape": ["len_cu_seqlens"], "dtype": "int32", "description": "Token offsets of the packed sequences."}},
        constraints=["batch_size == 1", "len_cu_seqlens == num_sequences + 1", "seq_len == cu_seqlens[-1].item()"],
    )


def _kda_decode(spec: KernelSpec) -> dict[str, Any]:
    from flashinfer.kda_decode import recurrent_kda

    h, hv, d = _heads(spec)
    raw = recurrent_kda.fi_trace(
        q=_meta(_TOKENS, 1, h, d), k=_meta(_TOKENS, 1, h, d), v=_meta(_TOKENS, 1, hv, d), g=_meta(_TOKENS, 1, hv, d), beta=_meta(_TOKENS, 1, hv),
        initial_state=_meta(_PAGES, hv, d, d), ssm_state_indices=_meta(_TOKENS, dtype=INT32),
    )
    return _complete(
        raw,
        stage="decode",
        reference=kda_references.kda_decode,
        description=(
            "Kimi Delta Attention single-token decode, as SGLang calls flashinfer.kda_decode.recurrent_kda: "
            "per-key-channel gate -exp(A_log) * softplus(g + dt_bias) computed in the kernel, q/k L2-normalised in "
            "the kernel, beta already through its sigmoid, bf16 state pool in k-last layout [slots, HV, V, K]."
        ),
        beta="Delta-rule update rate in (0, 1): SGLang applies the sigmoid before the call.",
        slots="State-pool slot each batch row reads and updates.",
        axes={"seq_len": {"type": "const", "value": 1, "description": "Tokens per batch row: one in decode."}},
        inputs={},
        constraints=["num_sequences == batch_size"],
    )


AXES = ("num_q_heads", "num_v_heads", "head_dim")

FAMILIES = (
    Family("kda_prefill", AXES, _kda_prefill, "Kimi Delta Attention packed prefill", reference_name="kda_prefill"),
    Family("kda_decode", AXES, _kda_decode, "Kimi Delta Attention single-token decode", reference_name="kda_decode"),
)
