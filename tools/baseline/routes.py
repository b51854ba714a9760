"""The code paths SGLang's kernels take, from the layer a model builds to the kernel call.

A route is a chain of steps; each names a class method (or a function) and the calls in
it that lead on, as patterns over the callee's source text. Nothing here carries a line
number: `entry_points` finds every step in the SGLang sources at run time and says so
when a step is missing from the release it reads.

The routes describe SGLang serving with `--attention-backend flashinfer` on CUDA (the
backend whose kernels the FlashInfer-Trace definitions describe), the default linear
and MoE methods for unquantized and fp8 checkpoints, and the FlashInfer sampler.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.kernel_spec import KernelSpec
from tools.model_parser.inventory import Component

LAYER = "<layer>"
"""Step target: the component's own SGLang class (or factory), as the model file imports it."""
OWNER = "<owner>"
"""Step target: the model class whose `__init__` builds the component."""
BUILT = "<built>"
"""Step target: the class a factory component builds (`get_rope` -> a RotaryEmbedding
class), as the factory's module sees it; the component's own class when it is no factory."""


@dataclass(frozen=True)
class Step:
    role: str
    """What this step is, in words (`attention backend decode entry point`)."""
    target: str
    """A class or function name, or LAYER / OWNER."""
    module: str | None = None
    """Dotted module defining `target`; None for LAYER / OWNER."""
    methods: tuple[str, ...] = ()
    """Methods of the class, tried in order (the first defined along the MRO that makes a
    matching call wins); empty when `target` is a function."""
    calls: tuple[str, ...] = ()
    """Regexes a callee's source text must fully match, tried in order."""
    last: bool = False
    """Cite the last matching call instead of the first (where the default path is the
    fall-through at the end of a chain of special cases)."""


@dataclass(frozen=True)
class Route:
    name: str
    kernel: str
    """What runs, in words."""
    backend: str
    """The SGLang backend or method the route assumes."""
    steps: tuple[Step, ...]
    implementation_step: int = 0
    """The step whose class (or function) implements the kernel in SGLang: the layer
    class for most routes, the class a factory builds for a factory."""
    kernel_object_step: int | None = None
    """The step whose call builds the object the kernel call is a method of (a FlashInfer
    wrapper), so the kernel is named by that object's class; None when the kernel call
    names a function."""


_REGISTRY = "sglang.srt.layers.attention.attention_registry"
_FI = "sglang.srt.layers.attention.flashinfer_backend"
_FI_MLA = "sglang.srt.layers.attention.flashinfer_mla_backend"
_UNQUANT = "sglang.srt.layers.quantization.unquant"
_FP8 = "sglang.srt.layers.quantization.fp8"
_MOE_RUNNER = "sglang.srt.layers.moe.moe_runner.runner"
_SAMPLER = "sglang.srt.layers.sampler"
_LOGITS = "sglang.srt.layers.logits_processor"


def _attention(name: str, kernel: str, backend_class: str, module: str, mode: str, call: str, wrapper: str) -> Route:
    return Route(
        name=name,
        kernel=kernel,
        backend=f"{backend_class} (--attention-backend flashinfer)",
        steps=(
            Step("layer forward: hands q, k, v to the attention backend", LAYER, methods=("forward",), calls=(r".*attn_backend\(\)\.forward",)),
            Step("backend registered as `flashinfer`", "create_flashinfer_backend", _REGISTRY, calls=(backend_class,)),
            Step("FlashInfer wrapper the backend builds", backend_class, module, methods=("__init__",), calls=(wrapper,)),
            Step("backend dispatch by forward mode", backend_class, module, methods=("forward",), calls=(rf"self\.forward_{mode}",)),
            Step(f"backend {mode} entry point: the FlashInfer call", backend_class, module, methods=(f"forward_{mode}",), calls=(call,)),
        ),
        kernel_object_step=2,
    )


# CUDA forwards that delegate to a shared `_forward_impl` are followed into it: of these
# methods, the first that makes the kernel call is cited.
_CUDA_FORWARD = ("forward_cuda", "_forward_impl", "forward")


def _norm(name: str, kernel: str, call: str) -> Route:
    return Route(name, kernel, "the norm layer's CUDA forward", (Step("layer CUDA forward", LAYER, methods=_CUDA_FORWARD, calls=(call,)),))


def _linear(name: str, kernel: str, backend: str, method_steps: tuple[Step, ...]) -> Route:
    layer = Step("layer forward: the quantization method's apply", LAYER, methods=("forward",), calls=(r"self\.quant_method\.apply",))
    return Route(name, kernel, backend, (layer,) + method_steps)


def _moe(name: str, backend: str, method_steps: tuple[Step, ...]) -> Route:
    layer = (
        Step("layer forward", LAYER, methods=("forward",), calls=(r"self\.forward_impl",)),
        Step("dispatch, expert compute, combine", LAYER, methods=("forward_impl",), calls=(r"self\.run_moe_core",)),
        Step("expert compute: the quantization method's apply", LAYER, methods=("run_moe_core",), calls=(r"self\.quant_method\.apply",)),
    )
    runner = Step("MoE runner: the runner core chosen by --moe-runner-backend", "MoeRunner", _MOE_RUNNER, methods=("run",), calls=(r"self\.runner_core\.run",))
    return Route(name, "fused MoE experts (grouped GEMMs + activation)", backend, layer + method_steps + (runner,))


def _sampling(family: str, kernel: str) -> Route:
    return Route(
        f"sampling.{family}",
        kernel,
        "Sampler with --sampling-backend flashinfer",
        (
            Step("sampler forward", "Sampler", _SAMPLER, methods=("forward",), calls=(r"self\._sample_from_probs",)),
            Step("sampling from probabilities", "Sampler", _SAMPLER, methods=("_sample_from_probs",), calls=(family,)),
        ),
    )


ROUTES: dict[str, Route] = {
    r.name: r
    for r in (
        _attention("attention.decode", "GQA/MHA decode over the paged KV cache", "FlashInferAttnBackend", _FI, "decode",
                   r"decode_wrapper\.forward", "BatchDecodeWithPagedKVCacheWrapper"),
        _attention("attention.paged_prefill", "GQA/MHA causal prefill over the paged KV cache (prefix reuse)", "FlashInferAttnBackend", _FI,
                   "extend", r"prefill_wrapper_paged\.forward", "BatchPrefillWithPagedKVCacheWrapper"),
        _attention("attention.ragged_prefill", "GQA/MHA causal prefill over the new tokens' ragged K/V", "FlashInferAttnBackend", _FI,
                   "extend", r"self\.prefill_wrapper_ragged\.forward", "BatchPrefillWithRaggedKVCacheWrapper"),
        _attention("mla.decode", "MLA decode over the paged compressed KV cache", "FlashInferMLAAttnBackend", _FI_MLA, "decode",
                   r"decode_wrapper\.run", "BatchMLAPagedAttentionWrapper"),
        _attention("mla.paged_prefill", "MLA prefill over the paged compressed KV cache", "FlashInferMLAAttnBackend", _FI_MLA, "extend",
                   r"prefill_wrapper_paged\.run", "BatchMLAPagedAttentionWrapper"),
        _attention("mla.ragged_prefill", "MLA prefill as MHA over the new tokens' decompressed K/V", "FlashInferMLAAttnBackend", _FI_MLA,
                   "extend", r"self\.prefill_wrapper_ragged\.forward", "BatchPrefillWithRaggedKVCacheWrapper"),
        _norm("norm.rmsnorm", "RMSNorm", "rmsnorm"),
        _norm("norm.fused_add_rmsnorm", "residual add + RMSNorm", "fused_add_rmsnorm"),
        _norm("norm.gemma_rmsnorm", "Gemma RMSNorm (weight + 1)", "gemma_rmsnorm"),
        _norm("norm.gemma_fused_add_rmsnorm", "residual add + Gemma RMSNorm", "gemma_fused_add_rmsnorm"),
        _norm("norm.layernorm", "LayerNorm", "layernorm"),
        _linear("linear.unquantized", "bf16 GEMM", "UnquantizedLinearMethod (cuBLAS through F.linear)", (
            Step("unquantized GEMM", "UnquantizedLinearMethod", _UNQUANT, methods=("apply",), calls=(r"F\.linear",), last=True),
        )),
        _linear("linear.fp8", "fp8 block-scaled GEMM", "Fp8LinearMethod (checkpoint quant_method fp8)", (
            Step("fp8 config picks the linear method", "Fp8Config", _FP8, methods=("get_quant_method",), calls=("Fp8LinearMethod",)),
            Step("fp8 GEMM", "Fp8LinearMethod", _FP8, methods=("apply",), calls=(r"self\.w8a8_block_fp8_linear", r"apply_fp8_linear")),
        )),
        _moe("moe.experts.unquantized", "UnquantizedFusedMoEMethod -> MoeRunner", (
            Step("layer builds the unquantized MoE method", LAYER, methods=("__init__",), calls=("UnquantizedFusedMoEMethod",)),
            Step("unquantized MoE method: runs the MoE runner", "UnquantizedFusedMoEMethod", _UNQUANT, methods=("forward_cuda", "apply"),
                 calls=(r"self\.runner\.run",), last=True),
        )),
        _moe("moe.experts.fp8", "Fp8MoEMethod -> MoeRunner (checkpoint quant_method fp8)", (
            Step("fp8 config picks the MoE method", "Fp8Config", _FP8, methods=("get_quant_method",), calls=("Fp8MoEMethod",)),
            Step("fp8 MoE method: runs the MoE runner", "Fp8MoEMethod", _FP8, methods=("apply",), calls=(r"self\.runner\.run",), last=True),
        )),
        Route("moe.topk", "expert routing (top-k selection)", "TopK.forward_cuda -> select_experts", (
            Step("layer CUDA forward", LAYER, methods=_CUDA_FORWARD, calls=("select_experts",)),
            Step("expert selection (grouped / biased / softmax top-k)", "select_experts", "sglang.srt.layers.moe.topk"),
        )),
        Route("moe.router_gemm", "router GEMM (hidden states x gate weight)", "the owner module's forward", (
            Step("owner forward: router logits", OWNER, methods=("forward",), calls=("linear_bf16_fp32", r"F\.linear", r"torch\.matmul")),
        )),
        _sampling("top_k_top_p_sampling_from_probs", "top-k + top-p sampling"),
        _sampling("top_k_sampling_from_probs", "top-k sampling"),
        _sampling("top_p_sampling_from_probs", "top-p sampling"),
        Route("logits", "logits projection and sampling", "LogitsProcessor", (
            Step("logits processor forward", LAYER, methods=("forward",), calls=(r"self\._compute_lm_head",)),
        )),
        Route("lm_head", "logits GEMM (hidden states x vocabulary)", "LogitsProcessor._compute_lm_head", (
            Step("lm_head GEMM through its quantization method", "LogitsProcessor", _LOGITS, methods=("_compute_lm_head",),
                 calls=(r"quant_method\.apply", r"torch\.matmul")),
        )),
        Route("embedding", "embedding lookup (gather)", "VocabParallelEmbedding", (
            Step("layer forward", LAYER, methods=("forward",), calls=(r"self\._embed_local_shard",)),
            Step("local vocabulary shard lookup", LAYER, methods=("_embed_local_shard",), calls=(r".*quant_method\.embedding", r"F\.embedding")),
        )),
        Route("rope", "rotary position embedding (q and k rotated in place)", "the RotaryEmbedding class get_rope picks for rope_scaling", (
            Step("factory choosing the rotary embedding class", LAYER),
            Step("the class built: CUDA forward, the cos/sin-cache kernel", BUILT, methods=("forward_cuda",), calls=("apply_rope_with_cos_sin_cache_inplace",)),
        ), implementation_step=1),
        Route("activation", "gated activation (SiLU/GELU and mul)", "sgl-kernel activation", (
            Step("layer CUDA forward", LAYER, methods=_CUDA_FORWARD, calls=("silu_and_mul", "gelu_and_mul", "gelu_tanh_and_mul")),
        )),
    )
}


def route_names(component: Component, spec: KernelSpec | None, quant_method: str | None) -> list[str]:
    """The routes `component` runs (for `spec`, when the planner gave one); [] when none is known."""
    kind = component.kind
    if kind == "attention.radix":
        return _attention_routes(component, spec)
    if kind in ("norm.rmsnorm", "norm.gemma_rmsnorm"):
        # `fused_add_rmsnorm` and `gemma_fused_add_rmsnorm`: the residual-add kernels.
        fused = spec is not None and "fused_add_" in spec.family
        return [kind.replace("rmsnorm", "fused_add_rmsnorm") if fused else kind]
    if kind == "norm.layernorm":
        return [kind]
    if kind == "linear.parameter":
        return ["moe.router_gemm"]
    if kind.startswith("linear."):
        return [f"linear.{quant_method}" if component.quantized else "linear.unquantized"]
    if kind == "moe.experts":
        return [f"moe.experts.{quant_method}" if component.quantized else "moe.experts.unquantized"]
    if kind == "logits":
        return [f"sampling.{spec.family}"] if spec is not None else ["logits"]
    if kind in ("moe.topk", "lm_head", "embedding", "rope", "activation"):
        return [kind]
    return []


def _attention_routes(component: Component, spec: KernelSpec | None) -> list[str]:
    head_dim, v_head_dim = component.value("head_dim"), component.value("v_head_dim", -1)
    mla = v_head_dim not in (-1, None, head_dim)
    if mla:
        # MLA's absorbed path attends over one latent KV head (paged); its MHA path
        # (as many KV heads as query heads) runs ragged prefill on decompressed K/V.
        latent = component.value("num_kv_heads") == 1
        family = "mla"
        by_stage = {"decode": ["decode"], "prefill": ["paged_prefill"]} if latent else {"decode": [], "prefill": ["ragged_prefill"]}
    else:
        family = "attention"
        by_stage = {"decode": ["decode"], "prefill": ["paged_prefill", "ragged_prefill"]}
    if spec is None:
        return [f"{family}.{r}" for rs in by_stage.values() for r in rs]
    candidates = by_stage["decode" if spec.stage == "decode" else "prefill"]
    # A prefill kernel without a page-size axis reads K/V from the new tokens (ragged).
    ragged = "page_size" not in spec.axes
    chosen = [r for r in candidates if spec.stage == "decode" or (r == "ragged_prefill") == ragged]
    return [f"{family}.{r}" for r in chosen or candidates]
