"""Dense bf16 GEMM."""

from tools.verification.bindings import Binding

BINDINGS = [
    Binding(
        name="mm_bf16",
        fi_api="flashinfer.gemm.mm_bf16",
        aliases=("flashinfer.gemm.gemm_base.mm_bf16",),  # how its fi_trace tags it
        kernel="mm_bf16",
        template="flashinfer.trace.templates.gemm:mm_bf16_trace",
        description="flashinfer.gemm.mm_bf16 with B viewed column-major",
    ),
]
