"""The inventory of a model: every layer component SGLang builds, with its parameters.

`parse_model` interprets the model's entry class (see `interpreter`) and flattens the
resulting module tree into `Component`s: one per distinct (module path, layer kind,
parameters), with the decoder-layer indices it appears in. Parameters keep both their
value and the config expression they were computed from. Modules the parser does not
understand become `UnknownComponent`s with their location; nothing is dropped silently.
"""

from __future__ import annotations

import re
from typing import Any

import libcst as cst
from pydantic import BaseModel, Field

from tools.model_parser.call_sites import CallSiteReader
from tools.model_parser.interpreter import ModelInterpreter
from tools.model_parser.runtime import ParallelProfile
from tools.model_parser.serving import ServingFacts, serving_facts
from tools.model_parser.source_index import SourceIndex
from tools.model_parser.values import (
    Choice,
    ClassValue,
    ConfigObject,
    Instance,
    LayerList,
    Leaf,
    Location,
    Sym,
    TensorValue,
    Unknown,
    expr_of,
    unwrap,
)


class SourceSpan(BaseModel):
    """Lines of an SGLang source file, e.g. `sglang/srt/models/llama.py:207-214`."""

    file: str
    start_line: int
    end_line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.start_line}-{self.end_line}"


class ParamValue(BaseModel):
    """A constructor argument: its resolved value and the expression it came from."""

    value: Any = None
    """The value for this config and profile (JSON-compatible); None when unknown."""
    expr: str | None = None
    """The expression over config fields and the parallel profile, when traceable."""
    unknown: bool = False
    """True when the parser could not resolve the value."""
    options: list[Any] | None = None
    """Alternative values when the argument depends on a runtime switch."""


class BuiltModule(BaseModel):
    """The module a factory leaf returns for its arguments: `get_rope` builds one of the
    RotaryEmbedding classes, and that class (not the factory) decides the kernel."""

    class_name: str
    """The class built, e.g. `Llama3RotaryEmbedding`."""
    params: dict[str, ParamValue] = Field(default_factory=dict)
    """Its constructor arguments, as the factory passes them (`rotary_dim` already scaled
    by a partial rotary factor)."""
    location: SourceSpan | None = None
    """Where the factory constructs it."""


class Component(BaseModel):
    """One SGLang layer the model builds (a kernel boundary)."""

    path: str
    """Module path with decoder-layer indices as `*`, e.g. `model.layers.*.self_attn.attn`."""
    kind: str
    """Layer kind from the catalog, e.g. `attention.radix`, `norm.rmsnorm`, `linear.qkv`."""
    class_name: str
    """The SGLang class (or factory) that builds it, e.g. `RadixAttention`."""
    owner_class: str
    """The model class whose `__init__` builds it, e.g. `LlamaAttention`."""
    parent_role: str
    """`decoder_layer` (direct child of a decoder layer), `model` (the model or the module
    holding the decoder stack), or `nested` (inside attention, MLP, MoE blocks)."""
    params: dict[str, ParamValue] = Field(default_factory=dict)
    layers: list[int] = Field(default_factory=list)
    """Decoder-layer indices it appears in; empty outside the decoder stack."""
    location: SourceSpan | None = None
    """Where it is constructed."""
    conditions: list[str] = Field(default_factory=list)
    """Runtime conditions (unresolved by the parser) under which it is built."""
    quantized: bool = False
    """True when the layer receives the checkpoint's quantization config (its weights are
    stored quantized, e.g. DeepSeek V3's fp8 block-scaled linears)."""
    builds: list[BuiltModule] = Field(default_factory=list)
    """For a factory (`get_rope`): the class it builds for these arguments; several when a
    runtime switch the parser could not resolve decides."""
    call_keywords: list[str] = Field(default_factory=list)
    """Keyword arguments the owner class's methods pass when they call this module as
    `self.<name>(...)`, read from the source (e.g. `fused_set_kv_buffer_arg`, `sinks`),
    with the keys of a `**dict` built beside the call."""
    calls: list[tuple[int, list[str]]] = Field(default_factory=list)
    """Each of those calls as (positional argument count, -1 for `*args`; its keywords): a
    norm called with the hidden states and the residual runs the fused add + norm kernel."""
    handed_to: list[str] = Field(default_factory=list)
    """Functions the owner passes the module itself to (`append_stages`,
    `residual_batch.final_norm`): code that calls it in the owner's stead."""
    methods_called: list[str] = Field(default_factory=list)
    """Methods the owner calls on the module (`forward_native`: the PyTorch path)."""
    base_class: str | None = None
    """For a model-local subclass of an SGLang layer (gpt-oss's `TinyGemmLinear`, a
    `ReplicatedLinear`): the layer class it extends, which gives it its kind."""
    replaces_forward: str | None = None
    """Where such a subclass overrides `forward` without delegating to the layer's own
    (`file:line`): the kernel it runs is then not the layer's."""

    def value(self, name: str, default: Any = None) -> Any:
        param = self.params.get(name)
        return default if param is None or param.unknown else param.value


class UnknownComponent(BaseModel):
    """A module the parser cannot map to a kernel: reported, for the LLM stage."""

    path: str
    class_name: str
    owner_class: str
    reason: str
    layers: list[int] = Field(default_factory=list)
    location: SourceSpan | None = None


class Inventory(BaseModel):
    """Everything `parse_model` found in one model for one config and profile."""

    model_file: str
    entry_class: str
    sglang_version: str
    tp: int
    ep: int
    num_layers: int
    """Length of the decoder stack."""
    layer_classes: list[str] = Field(default_factory=list)
    """Class name of each decoder layer, by index (hybrid models mix classes)."""
    components: list[Component] = Field(default_factory=list)
    unknown: list[UnknownComponent] = Field(default_factory=list)
    diagnostics: list[str] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    """Constructors that raise for this config and profile: the model cannot be served so."""
    serving: ServingFacts | None = None
    """What SGLang decides before building the model: dtype, shared-expert fusion, ..."""

    def of_kind(self, prefix: str) -> list[Component]:
        return [c for c in self.components if c.kind == prefix or c.kind.startswith(prefix + ".")]


def parse_model(
    index: SourceIndex,
    module: str,
    class_name: str,
    config: dict[str, Any],
    profile: ParallelProfile,
) -> Inventory:
    """Interpret `module.class_name` for `config` at `profile` and list its components."""
    interpreter = ModelInterpreter(index, config, profile)
    entry = interpreter.find_class(module, class_name)
    if entry is None:
        from tools.errors import SourceParseError

        raise SourceParseError(f"{class_name} is not defined in {module} (SGLang {index.source.version}).")
    serving = serving_facts(interpreter, entry, class_name, config)
    if serving.fused_shared_experts:
        interpreter.runtime["get_num_fused_shared_experts"] = serving.fused_shared_experts
    root = interpreter.build(entry)
    walker = _Walker(CallSiteReader(index))
    walker.visit(root, "", parent=None, role="model", layer=None, owner=entry)
    parsed = index.module(module)
    return Inventory(
        model_file=parsed.relpath if parsed else module,
        entry_class=class_name,
        sglang_version=index.source.version,
        tp=profile.tp,
        ep=profile.ep,
        num_layers=walker.num_layers,
        layer_classes=walker.layer_classes,
        components=list(walker.components.values()),
        unknown=list(walker.unknown.values()),
        diagnostics=[f"{d.location}: {d.message}" if d.location else d.message for d in interpreter.diagnostics],
        failures=list(dict.fromkeys(f"{d.location}: {d.message}" if d.location else d.message for d in interpreter.failures)),
        serving=serving,
    )


class _Walker:
    def __init__(self, call_sites: CallSiteReader) -> None:
        self.call_sites = call_sites
        self.components: dict[tuple, Component] = {}
        self.unknown: dict[tuple, UnknownComponent] = {}
        self.num_layers = 0
        self.layer_classes: list[str] = []
        self._decoder_stack: LayerList | None = None
        self._visited: set[int] = set()

    def visit(self, value: Any, path: str, *, parent: Instance | None, role: str, layer: int | None, owner: ClassValue | None) -> None:
        if isinstance(value, Choice):
            for option in value.options:
                self.visit(option, path, parent=parent, role=role, layer=layer, owner=owner)
        elif isinstance(value, Leaf):
            if id(value) in self._visited:
                return  # the same layer referenced again (e.g. by a stage-boundary object)
            self._visited.add(id(value))
            self._leaf(value, path, role=role, layer=layer, owner=owner, parent=parent)
        elif isinstance(value, Instance):
            if id(value) in self._visited:
                return  # an alias such as `self.lm_head = self.model.embed_tokens`
            self._visited.add(id(value))
            self._instance(value, path, role=role, layer=layer)
        elif isinstance(value, LayerList):
            self._layer_list(value, path, parent=parent, role=role, layer=layer, owner=owner)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, (Instance, Leaf, LayerList, Choice)):
                    self.visit(item, f"{path}.{i}" if path else str(i), parent=parent, role=role, layer=layer, owner=owner)

    def _instance(self, inst: Instance, path: str, *, role: str, layer: int | None) -> None:
        if _computes_alone(inst):
            self._unknown(
                path, inst.cls.name, "", layer, _span(inst.location),
                f"{inst.cls.name} is a model-local module whose forward computes without any SGLang layer inside "
                "(in PyTorch or with kernels of its own): the parser has no kernel mapping for it",
            )
        for name, child in inst.attrs.items():
            child_path = f"{path}.{name}" if path else name
            if role == "layer":
                child_role = "decoder_layer"
            elif role == "model" and (not path or _holds_stack(inst)):
                child_role = "model"  # the root, or the module that owns the decoder stack
            elif role == "model" and isinstance(child, Instance) and _leads_to_stack(child):
                child_role = "model"  # a wrapper on the way to the stack (e.g. a VLM's language_model)
            else:
                child_role = "nested"
            if name == "weight" and isinstance(child, TensorValue) and len(child.shape) == 2:
                self._parameter_linear(inst, child, child_path, layer=layer)
                continue
            self.visit(child, child_path, parent=inst, role=child_role, layer=layer, owner=inst.cls)

    def _layer_list(self, stack: LayerList, path: str, *, parent, role: str, layer: int | None, owner) -> None:
        is_decoder_stack = self._decoder_stack is None and any(isinstance(x, Instance) for x in stack.layers)
        if is_decoder_stack:
            self._decoder_stack = stack
            self.num_layers = len(stack.layers)
            self.layer_classes = [x.cls.name if isinstance(x, Instance) else type(x).__name__ for x in stack.layers]
        for i, item in enumerate(stack.layers):
            item_layer = i if is_decoder_stack else layer
            item_role = "layer" if is_decoder_stack else "nested"
            self.visit(item, f"{path}.*", parent=parent, role=item_role, layer=item_layer, owner=owner)

    def _leaf(self, leaf: Leaf, path: str, *, role: str, layer: int | None, owner: ClassValue | None, parent: Instance | None = None) -> None:
        span = _span(leaf.location)
        owner_name = owner.name if owner else ""
        if leaf.kind == "unknown":
            self._unknown(path, leaf.class_name, owner_name, layer, span, f"{leaf.class_name} is a torch module from outside the model files that the parser has no kernel mapping for")
            return
        params = {name: _param(value) for name, value in leaf.params.items() if _keep_param(name, value)}
        quant = leaf.params.get("quant_config")
        attribute = path.rsplit(".", 1)[-1]
        self._add(Component(
            path=path,
            kind=leaf.kind,
            class_name=leaf.class_name,
            owner_class=owner_name,
            parent_role=role if role != "layer" else "decoder_layer",
            params=params,
            location=span,
            conditions=list(leaf.conditions),
            quantized=quant is not None and not (isinstance(quant, Choice) and None in quant.options),
            builds=_built(leaf),
            **self._usage(owner, attribute, parent),
            base_class=leaf.base_class,
            replaces_forward=leaf.replaces_forward,
        ), layer)

    def _unknown(self, path: str, class_name: str, owner: str, layer: int | None, span: SourceSpan | None, reason: str) -> None:
        key = (path, class_name)
        entry = self.unknown.get(key)
        if entry is None:
            entry = self.unknown[key] = UnknownComponent(path=path, class_name=class_name, owner_class=owner, reason=reason, location=span)
        if layer is not None and layer not in entry.layers:
            entry.layers.append(layer)

    def _usage(self, owner: ClassValue | None, attribute: str, parent: Instance | None) -> dict[str, list]:
        if owner is None or not attribute.isidentifier():
            return {}
        usage = self.call_sites.usage(owner, attribute)
        # A keyword passed as one of the owner's attributes that this instance holds None
        # for (MiMo V2's full-attention layers: sinks=self.attention_sink_bias = None) is
        # not passed in effect.
        absent = {
            keyword
            for keyword, attrs in usage.keyword_attributes.items()
            if parent is not None and all(name in parent.attrs and parent.attrs[name] is None for name in attrs)
        }
        return {
            "call_keywords": sorted({k for _, keywords in usage.calls for k in keywords} - absent),
            "calls": sorted((count, list(keywords)) for count, keywords in usage.calls),
            "handed_to": sorted(usage.handed_to),
            "methods_called": sorted(usage.methods | usage.attributes),
        }

    def _parameter_linear(self, inst: Instance, tensor: TensorValue, path: str, *, layer: int | None) -> None:
        out_features, in_features = tensor.shape
        self._add(Component(
            path=path,
            kind="linear.parameter",
            class_name="nn.Parameter",
            owner_class=inst.cls.name,
            parent_role="nested",
            params={"output_size": _param(out_features), "input_size": _param(in_features), "dtype": _param(tensor.dtype)},
            location=_span(inst.location),
            conditions=list(inst.conditions),
        ), layer)

    def _add(self, component: Component, layer: int | None) -> None:
        key = (
            component.path,
            component.kind,
            component.class_name,
            tuple(sorted((k, repr(v.value), v.unknown) for k, v in component.params.items())),
            tuple(component.conditions),
        )
        existing = self.components.get(key)
        if existing is None:
            self.components[key] = existing = component
        if layer is not None and layer not in existing.layers:
            existing.layers.append(layer)


def _built(leaf: Leaf) -> list[BuiltModule]:
    found: list[BuiltModule] = []
    for module in leaf.built:
        params = {name: _param(value) for name, value in module.params.items() if _keep_param(name, value)}
        entry = BuiltModule(class_name=module.class_name, params=params, location=_span(module.location))
        if entry not in found:
            found.append(entry)
    return found


def _computes_alone(inst: Instance) -> bool:
    """A model file's module that defines a forward but holds no layer, sub-module or weight
    matrix the walker maps (MiniMax M2's tensor-parallel QK RMSNorm, Gemma 3's HF-style
    rotary table): what it runs is not known, so it is reported rather than dropped."""
    if not inst.cls.module.startswith("sglang.srt.models"):
        return False
    if not any(isinstance(s, cst.FunctionDef) and s.name.value == "forward" for s in inst.cls.node.body.body):
        return False
    return not any(_is_module_value(v) for v in inst.attrs.values())


def _is_module_value(value: Any) -> bool:
    if isinstance(value, Choice):
        return any(_is_module_value(o) for o in value.options)
    if isinstance(value, (list, tuple)):
        return any(_is_module_value(v) for v in value)
    return isinstance(value, (Leaf, Instance, LayerList)) or (isinstance(value, TensorValue) and len(value.shape) == 2)


def _holds_stack(inst: Instance) -> bool:
    return any(_is_stack(v) for v in inst.attrs.values())


def _is_stack(value: Any) -> bool:
    if isinstance(value, LayerList):
        return any(isinstance(x, Instance) for x in value.layers)
    return isinstance(value, tuple) and any(_is_stack(x) for x in value)


def _leads_to_stack(inst: Instance, depth: int = 0) -> bool:
    if depth > 4:
        return False
    return _holds_stack(inst) or any(isinstance(v, Instance) and _leads_to_stack(v, depth + 1) for v in inst.attrs.values())


_SKIPPED_PARAMS = {"prefix", "quant_config", "config", "args", "kwargs", "alt_stream", "params_dtype", "layer_id", "layer_idx"}


def _keep_param(name: str, value: Any) -> bool:
    return name not in _SKIPPED_PARAMS and not isinstance(value, (ConfigObject, ClassValue))


def _param(value: Any) -> ParamValue:
    if isinstance(value, Choice):
        options = [_json(unwrap(o)) for o in value.options]
        return ParamValue(value=None, expr=" | ".join(filter(None, (expr_of(o) for o in value.options))) or None, unknown=True, options=options)
    if isinstance(value, Unknown):
        return ParamValue(value=None, expr=value.reason, unknown=True)
    if isinstance(value, TensorValue):
        return ParamValue(value=f"tensor{tuple(_json(unwrap(d)) for d in value.shape)}", expr=None)
    if isinstance(value, (list, tuple)):
        items = [_param(v) for v in value]
        exprs = [i.expr or repr(i.value) for i in items]
        return ParamValue(value=[i.value for i in items], expr="[" + ", ".join(exprs) + "]" if any(isinstance(v, Sym) for v in value) else None, unknown=any(i.unknown for i in items))
    raw = unwrap(value)
    return ParamValue(value=_json(raw), expr=value.expr if isinstance(value, Sym) else None)


def _json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json(unwrap(v)) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(unwrap(v)) for k, v in value.items() if _json_safe(unwrap(v))}
    if isinstance(value, (Instance, Leaf)):
        return f"<{type(value).__name__.lower()} {getattr(value, 'class_name', None) or value.cls.name}>"
    return re.sub(r"\s+", " ", repr(value))[:80]


def _json_safe(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, list, tuple, dict))


def _span(location: Location | None) -> SourceSpan | None:
    if location is None:
        return None
    return SourceSpan(file=location.file, start_line=location.start_line, end_line=location.end_line)
