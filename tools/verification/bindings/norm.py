"""RMSNorm, plain and fused with the residual add, Llama style (x * w) and Gemma style
(x * (1 + w)); LayerNorm with weight and bias."""

from tools.verification.bindings import Binding

BINDINGS = [
    Binding(
        build_seconds=39,
        name="rmsnorm",
        fi_api="flashinfer.norm.rmsnorm",
        op_type="rmsnorm",
        kernel="rmsnorm",
        template="flashinfer.trace.templates.norm:rmsnorm_trace",
        description="flashinfer.norm.rmsnorm, eps 1e-6",
    ),
    Binding(
        build_seconds=39,
        name="fused_add_rmsnorm",
        fi_api="flashinfer.norm.fused_add_rmsnorm",
        op_type="rmsnorm",
        kernel="fused_add_rmsnorm",
        template="flashinfer.trace.templates.norm:fused_add_rmsnorm_trace",
        description="flashinfer.norm.fused_add_rmsnorm (in place, on copies), eps 1e-6",
    ),
    Binding(
        build_seconds=39,
        name="gemma_rmsnorm",
        fi_api="flashinfer.norm.gemma_rmsnorm",
        op_type="rmsnorm",
        kernel="gemma_rmsnorm",
        template="flashinfer.trace.templates.norm:gemma_rmsnorm_trace",
        description="flashinfer.norm.gemma_rmsnorm, eps 1e-6",
    ),
    Binding(
        build_seconds=39,
        name="gemma_fused_add_rmsnorm",
        fi_api="flashinfer.norm.gemma_fused_add_rmsnorm",
        op_type="rmsnorm",
        kernel="gemma_fused_add_rmsnorm",
        template="flashinfer.trace.templates.norm:gemma_fused_add_rmsnorm_trace",
        description="flashinfer.norm.gemma_fused_add_rmsnorm (in place, on copies), eps 1e-6",
    ),
    Binding(
        build_seconds=39,
        name="layernorm",
        fi_api="flashinfer.norm.layernorm",
        op_type="layernorm",
        kernel="layernorm",
        template="flashinfer.trace.templates.norm:layernorm_trace",
        description="flashinfer.norm.layernorm, eps 1e-6",
    ),
]
