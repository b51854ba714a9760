"""Rules for the kernels every model has besides norms and attention: dense GEMMs and
sampling, and the components that need no definition (embeddings, activations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from tools.model_parser.inventory import Component
from tools.model_parser.layer_catalog import ACTIVATIONS

if TYPE_CHECKING:
    from tools.kernel_planner import Planner


def _gemm_shape(component: Component) -> tuple[int, int] | None:
    kind = component.kind
    if kind == "linear.qkv":
        heads, kv_heads = component.value("total_num_heads"), component.value("total_num_kv_heads")
        head, hidden = component.value("head_size"), component.value("hidden_size")
        v_head = component.value("v_head_size") or head
        if not all(isinstance(x, int) for x in (heads, kv_heads, head, hidden, v_head)):
            return None
        return (heads + kv_heads) * head + kv_heads * v_head, hidden
    if kind == "linear.merged_column":
        sizes = component.value("output_sizes")
        k = component.value("input_size")
        if not isinstance(sizes, list) or not all(isinstance(x, int) for x in sizes) or not isinstance(k, int):
            return None
        return sum(sizes), k
    n, k = component.value("output_size"), component.value("input_size")
    if isinstance(n, int) and isinstance(k, int):
        return n, k
    return None


def _linear(planner: Planner, component: Component) -> None:
    if "conv" in component.path.rsplit(".", 1)[-1]:
        # SGLang keeps short-convolution weights (GDN, Mamba) in a linear layer; the causal
        # conv1d kernel that uses them is part of the linear-attention layer, not a GEMM.
        planner.skip(component, "convolution weights held in a linear layer; no GEMM runs on them")
        return
    if component.kind != "linear.parameter" and not component.calls and not component.handed_to and "weight" in component.methods_called:
        # Nemotron-H's router: torch.mm(hidden, self.gate.weight.t(), out_dtype=float32).
        planner.pending(
            component,
            f"{component.owner_class} never calls it: it reads its weight and multiplies it itself, "
            "so the GEMM it runs (operands, output dtype) is not the linear layer's",
        )
        return
    if component.value("dtype") == "float32":
        # MiMo V2's MoEGate keeps its router weight in float32 and runs F.linear in float32.
        planner.pending(component, "the weight is float32 (an nn.Parameter created with dtype float32): the owner runs a float32 GEMM, which the gemm definitions do not describe")
        return
    shape = _gemm_shape(component)
    if shape is None:
        names = {"linear.qkv": ("total_num_heads", "total_num_kv_heads", "head_size", "hidden_size"), "linear.merged_column": ("output_sizes", "input_size")}
        planner.pending(component, f"linear layer shape could not be resolved: {planner.unresolved(component, *names.get(component.kind, ('output_size', 'input_size')))}")
        return
    n, k = shape
    if component.quantized:
        if planner.options.include_quantized:
            planner.emit(component, "gemm_fp8_block_scale", {"N": n, "K": k})
        else:
            planner.skip(component, f"quantized GEMM n{n} k{k} (the checkpoint stores these weights quantized); pass --include-quantized")
        return
    planner.emit(component, "gemm", {"N": n, "K": k})


def _logits(planner: Planner, component: Component) -> None:
    vocab = None
    for candidate in planner.inventory.components:
        if candidate.kind in ("lm_head", "embedding"):
            vocab = candidate.value("num_embeddings")
            if candidate.kind == "lm_head":
                break
    if not isinstance(vocab, int):
        planner.pending(component, "vocabulary size could not be resolved (num_embeddings of the LM head or embedding)")
        return
    for family in ("top_k_sampling_from_probs", "top_p_sampling_from_probs", "top_k_top_p_sampling_from_probs"):
        planner.emit(component, family, {"vocab_size": vocab})


def _activation(planner: Planner, component: Component) -> None:
    what = ACTIVATIONS.get(component.class_name, f"the {component.class_name} activation")
    planner.skip(component, f"{what} between the GEMMs is elementwise; not a dataset kernel")


def _skip(reason: str) -> Callable[[Planner, Component], None]:
    return lambda planner, component: planner.skip(component, reason)


RULES = {
    "linear.qkv": _linear,
    "linear.merged_column": _linear,
    "linear.column": _linear,
    "linear.row": _linear,
    "linear.replicated": _linear,
    "linear.parameter": _linear,
    "linear.torch": _linear,
    "logits": _logits,
    "lm_head": _skip("the logits projection is not part of the dataset's model kernel sets"),
    "embedding": _skip("an embedding lookup is a gather, with no FlashInfer kernel"),
    "activation": _activation,
}


