"""Dense GEMMs: the dataset's float16 C = A @ B.T (B [N, K], no fi_api tag), our earlier bf16
C = A @ B (B [K, N], tagged mm_bf16), and FP8 block-scale GEMM on Hopper."""

from tools.verification.bindings import Binding
from tools.verification.bindings.signatures import input_dtype, input_shape


def _nt(definition) -> bool:
    """B is the [N, K] weight in float16 or bfloat16: C = A @ B.T."""
    return input_shape(definition, "B") == ["N", "K"] and input_dtype(definition, "A") in ("float16", "bfloat16")


def _nn_bf16(definition) -> bool:
    return input_shape(definition, "B") == ["K", "N"] and input_dtype(definition, "A") == "bfloat16"


BINDINGS = [
    Binding(
        name="gemm_nt_segment",
        build_seconds=46,
        fi_api="flashinfer.gemm.SegmentGEMMWrapper.run",
        kernel="gemm_segment",
        op_type="gemm",
        applies=_nt,
        description="flashinfer.gemm.SegmentGEMMWrapper (sm80 backend), one segment, weight column-major: C = A @ B.T",
    ),
    Binding(
        name="mm_bf16",
        build_seconds=8,
        fi_api="flashinfer.gemm.mm_bf16",
        kernel="mm_bf16",
        op_type="gemm",
        applies=_nn_bf16,
        template="flashinfer.trace.templates.gemm:mm_bf16_trace",
        description="flashinfer.gemm.mm_bf16 with B viewed column-major",
    ),
    Binding(
        name="gemm_fp8_blockscale_sm90",
        prepare_all_cases=True,
        build_seconds=148,
        fi_api="flashinfer.gemm.fp8_blockscale_gemm_sm90",
        kernel="gemm_fp8_blockscale_sm90",
        op_type="gemm_fp8",
        serves=("gemm_fp8_nt_groupwise",),
        compute_capabilities=((9, 0),),
        description="flashinfer.gemm.fp8_blockscale_gemm_sm90 W8A8, activation scales MN-major, stands in for gemm_fp8_nt_groupwise (SM100+)",
    ),
]
