"""Gated Delta Net (Qwen3-Next) and Kimi Delta Attention (Kimi Linear): FlashInfer's CuTe DSL
kernels, which need `nvidia-cutlass-dsl` on the GPU machine.

The definitions keep the recurrent state k-last ([.., V, K]), as these kernels do.
"""

from tools.verification.bindings import Binding

DSL = ("cutlass",)


def _k_last(definition) -> bool:
    return definition["name"].endswith("_k_last") or "layout:k-last" in definition.get("tags", [])


BINDINGS = [
    Binding(
        name="gdn_decode",
        build_seconds=5,
        fi_api="flashinfer.gdn_decode.gated_delta_rule_decode_pretranspose",
        kernel="gdn_decode",
        op_type="gdn",
        serves=("gated_delta_rule_decode",),
        applies=_k_last,
        requires=DSL,
        prepare_all_cases=True,
        description="gated_delta_rule_decode_pretranspose (k-last float32 state, gates in the kernel, no q/k L2 norm)",
    ),
    Binding(
        name="gdn_mtp",
        build_seconds=5,
        fi_api="flashinfer.gdn_decode.gated_delta_rule_mtp",
        kernel="gdn_mtp",
        op_type="gdn",
        applies=_k_last,
        requires=DSL,
        prepare_all_cases=True,
        description="gated_delta_rule_mtp over the k-last state pool, state left unchanged, no q/k L2 norm",
    ),
    Binding(
        name="gdn_prefill",
        build_seconds=5,
        fi_api="flashinfer.gdn_prefill.chunk_gated_delta_rule",
        kernel="gdn_prefill",
        op_type="gdn",
        applies=_k_last,
        requires=DSL,
        prepare_all_cases=True,
        checked="the recurrence: chunk_gated_delta_rule; the gates g and beta from A_log, a, dt_bias, b: torch",
        description="chunk_gated_delta_rule over packed sequences with float32 gates computed from the raw inputs, no q/k L2 norm",
    ),
    Binding(
        name="kda_decode",
        build_seconds=5,
        fi_api="flashinfer.kda_decode.recurrent_kda",
        kernel="kda_decode",
        op_type="kda",
        applies=_k_last,
        requires=DSL,
        prepare_all_cases=True,
        description="recurrent_kda, one token per row, gate and q/k L2 norm in the kernel, bf16 state pool",
    ),
    Binding(
        name="kda_prefill_by_token",
        build_seconds=5,
        fi_api="flashinfer.kda_decode.recurrent_kda",
        kernel="kda_prefill_by_token",
        op_type="kda",
        applies=_k_last,
        requires=DSL,
        prepare_all_cases=True,
        checked=(
            "every token, on recurrent_kda's decode kernel one token per sequence per call (FlashInfer 0.7.2 has no "
            "SM90 multi-token KDA prefill: on SM90 recurrent_kda sends T > 1 to that kernel, which reads one token per "
            "sequence); the packing of each step: torch; the state is rounded to bf16 between tokens"
        ),
        description="recurrent_kda's decode kernel, one token of every sequence per call, over the bf16 state pool",
    ),
]
