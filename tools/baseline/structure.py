"""The forward-pass structure of a model as SGLang builds it, from its inventory.

Components are placed by role (embedding, decoder stack, final norm, logits head) in
the order the model constructs them. For hybrid models the decoder stack says which
layers use which decoder class and attention module, and which layers carry routed
experts (`moe`) and which do not (`dense`).
"""

from __future__ import annotations

from tools.baseline.kernel_map import ComponentKernel
from tools.baseline.schema import ConstructorCall, DecoderStack, ForwardPass, ForwardStep, KernelRef, LayerGroup
from tools.model_parser.inventory import Component, Inventory


def forward_pass(inventory: Inventory, kernels: list[ComponentKernel]) -> ForwardPass:
    refs: dict[int, list[KernelRef]] = {}
    for kernel in kernels:
        refs.setdefault(id(kernel.component), []).append(_ref(kernel))
    parts: dict[str, list[ForwardStep]] = {"embedding": [], "decoder": [], "final_norm": [], "lm_head": [], "other": []}
    for component in inventory.components:
        step = ForwardStep(
            path=component.path, kind=component.kind, class_name=component.class_name, layers=component.layers, kernels=refs.get(id(component), [])
        )
        parts[_role(component)].append(step)
    return ForwardPass(
        embedding=parts["embedding"],
        decoder_layers=DecoderStack(
            num_layers=inventory.num_layers,
            layer_classes=_groups((cls, [i]) for i, cls in enumerate(inventory.layer_classes)),
            attention=_groups((_attention_label(c), c.layers) for c in inventory.components if c.kind.startswith("attention.") and c.layers),
            feed_forward=_feed_forward(inventory),
            components=parts["decoder"],
        ),
        final_norm=parts["final_norm"],
        lm_head=parts["lm_head"],
        other=parts["other"],
    )


def constructor_calls(inventory: Inventory) -> list[ConstructorCall]:
    """The layer constructors the model calls, with their arguments as values and expressions."""
    return [
        ConstructorCall(
            path=c.path,
            function=c.class_name,
            kind=c.kind,
            owner_class=c.owner_class,
            location=c.location,
            layers=c.layers,
            params=c.params,
            conditions=c.conditions,
            quantized=c.quantized,
        )
        for c in inventory.components
    ]


def _ref(kernel: ComponentKernel) -> KernelRef:
    spec = kernel.spec
    return KernelRef(
        family=spec.family if spec else None,
        stage=spec.stage if spec else None,
        flashinfer_equivalent=kernel.definition_name,
        equivalent_status=kernel.status,
        reason=kernel.reason,
    )


def _role(component: Component) -> str:
    if component.layers:
        return "decoder"
    if component.kind == "embedding":
        return "embedding"
    if component.kind in ("lm_head", "logits"):
        return "lm_head"
    if component.kind.startswith("norm.") and component.parent_role == "model":
        return "final_norm"
    return "other"


def _attention_label(component: Component) -> str:
    if component.kind != "attention.radix":
        return f"{component.path} ({component.class_name}, {component.kind})"
    heads, kv_heads = component.value("num_heads"), component.value("num_kv_heads")
    head_dim, v_head_dim = component.value("head_dim"), component.value("v_head_dim", -1)
    window = component.value("sliding_window_size", -1)
    if v_head_dim not in (-1, None, head_dim):
        variant = "MLA"
    elif isinstance(window, int) and window > 0:
        variant = f"sliding window {window}"
    else:
        variant = "MHA" if heads == kv_heads else "GQA"
    return f"{component.path} ({component.class_name}, {variant})"


def _feed_forward(inventory: Inventory) -> list[LayerGroup]:
    moe = sorted({i for c in inventory.components if c.kind == "moe.experts" for i in c.layers})
    dense = [i for i in range(inventory.num_layers) if i not in set(moe)]
    return [g for g in (LayerGroup(label="dense", layers=dense), LayerGroup(label="moe", layers=moe)) if g.layers]


def _groups(pairs) -> list[LayerGroup]:
    grouped: dict[str, set[int]] = {}
    for label, layers in pairs:
        grouped.setdefault(label, set()).update(layers)
    return [LayerGroup(label=label, layers=sorted(layers)) for label, layers in grouped.items()]
