"""RMSNorm, plain and fused with the residual add."""

from tools.verification.bindings import Binding

BINDINGS = [
    Binding(
        name="rmsnorm",
        fi_api="flashinfer.norm.rmsnorm",
        kernel="rmsnorm",
        template="flashinfer.trace.templates.norm:rmsnorm_trace",
        description="flashinfer.norm.rmsnorm, eps 1e-6",
    ),
    Binding(
        name="fused_add_rmsnorm",
        fi_api="flashinfer.norm.fused_add_rmsnorm",
        kernel="fused_add_rmsnorm",
        template="flashinfer.trace.templates.norm:fused_add_rmsnorm_trace",
        description="flashinfer.norm.fused_add_rmsnorm (in place, on copies), eps 1e-6",
    ),
]
