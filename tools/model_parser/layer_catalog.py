"""SGLang layer classes the parser treats as kernel boundaries, and helpers it skips.

A model file builds its modules from SGLang's layer library (`sglang/srt/layers/`).
The interpreter walks model classes, and stops at the classes listed here: each is a
leaf of the module tree with a `kind` the kernel planner knows. Constructor arguments
are bound with the class's own signature read from the SGLang sources; the fallback
parameter names here are used only when that source is missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LeafSpec:
    kind: str
    fallback_params: tuple[str, ...]
    builds_class: bool = False
    """For a factory: its body picks the class it returns from its arguments (`get_rope`
    picks a RotaryEmbedding subclass by `rope_scaling`), so the interpreter also runs the
    body and records the class built, with that class's own constructor arguments."""


LEAF_CLASSES: dict[str, LeafSpec] = {
    # normalisation
    "RMSNorm": LeafSpec("norm.rmsnorm", ("hidden_size", "eps")),
    "GemmaRMSNorm": LeafSpec("norm.gemma_rmsnorm", ("hidden_size", "eps")),
    "Gemma3RMSNorm": LeafSpec("norm.gemma_rmsnorm", ("dim", "eps")),
    "LayerNorm": LeafSpec("norm.layernorm", ("hidden_size", "eps")),
    # attention
    "RadixAttention": LeafSpec(
        "attention.radix",
        ("num_heads", "head_dim", "scaling", "num_kv_heads", "layer_id", "logit_cap", "v_head_dim", "sliding_window_size"),
    ),
    "RadixLinearAttention": LeafSpec("attention.linear", ()),
    "Indexer": LeafSpec("attention.dsa_indexer", ("hidden_size", "index_n_heads", "index_head_dim", "rope_head_dim", "index_topk")),
    "IndexerKPool": LeafSpec("attention.dsa_indexer", ("hidden_size", "index_n_heads", "index_head_dim", "rope_head_dim", "index_topk")),
    # linear layers
    "QKVParallelLinear": LeafSpec(
        "linear.qkv", ("hidden_size", "head_size", "total_num_heads", "total_num_kv_heads", "bias")
    ),
    "MergedColumnParallelLinear": LeafSpec("linear.merged_column", ("input_size", "output_sizes", "bias")),
    "ColumnParallelLinear": LeafSpec("linear.column", ("input_size", "output_size", "bias")),
    "RowParallelLinear": LeafSpec("linear.row", ("input_size", "output_size", "bias")),
    "ReplicatedLinear": LeafSpec("linear.replicated", ("input_size", "output_size", "bias")),
    # vocabulary
    "VocabParallelEmbedding": LeafSpec("embedding", ("num_embeddings", "embedding_dim")),
    "ParallelLMHead": LeafSpec("lm_head", ("num_embeddings", "embedding_dim")),
    "LogitsProcessor": LeafSpec("logits", ("config",)),
    # mixture of experts
    "FusedMoE": LeafSpec("moe.experts", ("num_experts", "hidden_size", "intermediate_size", "layer_id", "top_k")),
    "DeepEPMoE": LeafSpec("moe.experts", ("num_experts", "top_k", "hidden_size", "intermediate_size")),
    "TopK": LeafSpec("moe.topk", ("top_k",)),
    # activations (fused into GEMM epilogues or tiny elementwise kernels); the planner
    # names each in its skip note (ACTIVATIONS)
    "SiluAndMul": LeafSpec("activation", ()),
    "SituAndMul": LeafSpec("activation", ()),
    "GeluAndMul": LeafSpec("activation", ("approximate",)),
    "NewGELU": LeafSpec("activation", ()),
    "ReLU2": LeafSpec("activation", ()),
    "QuickGELU": LeafSpec("activation", ()),
    "XIELU": LeafSpec("activation", ()),
}

ACTIVATIONS: dict[str, str] = {
    "SiluAndMul": "SiLU-and-mul (the SwiGLU gate)",
    "SituAndMul": "SiTU-and-mul",
    "GeluAndMul": "GELU-and-mul (the GeGLU gate)",
    "NewGELU": "GELU (tanh approximation)",
    "ReLU2": "squared ReLU",
    "QuickGELU": "quick GELU (x * sigmoid(1.702 x))",
    "XIELU": "xIELU",
    "nn.GELU": "GELU",
    "nn.SiLU": "SiLU",
    "nn.ReLU": "ReLU",
    "nn.Tanh": "tanh",
    "nn.Sigmoid": "sigmoid",
}
"""What each activation layer computes, for the note that says why it has no kernel."""

# Functions that build a leaf rather than a class (`get_rope(...)` returns a rotary module).
# The leaf keeps the model's call and its arguments; the class the factory builds is
# recorded beside it (`builds_class`), since that class decides the kernel.
_ROPE_PARAMS = ("head_size", "rotary_dim", "max_position", "base", "is_neox_style", "rope_scaling", "dtype")
LEAF_FACTORIES: dict[str, LeafSpec] = {
    "get_rope": LeafSpec("rope", _ROPE_PARAMS, builds_class=True),
    "get_rope_wrapper": LeafSpec("rope", _ROPE_PARAMS, builds_class=True),
}

# Rotary embeddings: every `...RotaryEmbedding` class of SGLang's rotary_embedding package
# is a `rope` leaf named by its class, since the class decides how RoPE runs. Matched by
# package as well as name: model files define look-alikes (an audio tower's own
# `RotaryEmbedding`).
ROTARY_PACKAGE = "sglang.srt.layers.rotary_embedding"
ROTARY_LEAF = LeafSpec("rope", ("head_size", "rotary_dim", "max_position_embeddings", "base", "is_neox_style", "dtype"))


def rotary_leaf(class_name: str, module: str) -> LeafSpec | None:
    """The leaf spec of a rotary-embedding class from SGLang's layer library, else None."""
    in_package = module == ROTARY_PACKAGE or module.startswith(ROTARY_PACKAGE + ".")
    return ROTARY_LEAF if in_package and class_name.endswith("RotaryEmbedding") else None


# Builders of decoder-layer stacks: the interpreter calls the layer function per index.
LAYER_LIST_FACTORIES = frozenset({"make_layers", "make_pp_layers"})

# Modules that carry no kernel of their own (placeholders, wrappers around modules the
# parser already sees, pooling heads): built silently, never reported as unknown.
SILENT_CLASSES = frozenset(
    {
        "PPMissingLayer",
        "Pooler",
        "DualGemm",
        "DenseSiluAndMulQuant",
        "LazyValue",
        "AuxHiddenStateList",
        "Identity",
        "Dropout",
        "EmbeddingPoolerOutput",
    }
)

# Base classes that make a class a torch module (and so possibly a kernel we miss).
MODULE_BASES = frozenset({"Module", "CustomOp", "MultiPlatformOp", "BaseFusedOp", "PPMissingLayer", "ModuleList"})
