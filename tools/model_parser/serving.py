"""What SGLang decides about serving a model before it builds it, read from its sources.

Before a model's constructor runs, SGLang settles things the constructor and the kernels
depend on; the parser models the defaults (no extra server flags beyond
`--attention-backend flashinfer`, a CUDA SM90 GPU):

- the activation dtype: `_get_and_verify_dtype` (configs/model_config.py) reads the
  config's `dtype`/`torch_dtype`; `auto` serves a float32 checkpoint in float16 (bfloat16
  for Gemma), anything else as stored; the architecture's override provider
  (arg_groups/model_overrides/) may force one (gpt-oss MXFP4 runs in bfloat16);
- shared-expert fusion: `resolve_shared_experts_config` (layers/moe/utils.py) asks the
  model class's `shared_experts_fusion_disable_reason`; when it has no objection the
  shared expert becomes an extra routed expert (GLM-4.5, DeepSeek V3 at EP=1);
- a per-architecture check in arg_groups/model_hook.py that refuses some attention
  backends (gpt-oss: FlashInfer has no attention sinks), cited where it matters;
- where SGLang decides to fuse RoPE with the KV-cache write (`enable_fused_set_kv_buffer`).

The decisions that run model code (the override provider, the fusion gate) are evaluated
by the interpreter; the rest is SGLang's few lines restated here, with their location.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from tools.model_parser.frames import Builtin, Frame
from tools.model_parser.runtime import ProfileObject
from tools.model_parser.values import ClassValue, Choice, FunctionValue, Unknown, unwrap

if TYPE_CHECKING:
    from tools.model_parser.interpreter import ModelInterpreter

_DTYPES = {"float32": "float32", "float": "float32", "float16": "float16", "half": "float16", "bfloat16": "bfloat16"}


class ServingFacts(BaseModel):
    """SGLang's serving decisions for one model, each with where SGLang makes it."""

    dtype: str
    """Activation dtype SGLang serves the model in: bfloat16, float16 or float32."""
    dtype_reason: str
    overrides: dict[str, Any] = {}
    """Server arguments the architecture's override provider sets (known values only)."""
    overrides_source: str | None = None
    """`file:line` of that provider."""
    fused_shared_experts: int | None = 0
    """Shared experts SGLang runs as extra routed experts; None when the parser cannot
    decide (the gate depends on something it does not know)."""
    shared_experts_reason: str = ""
    quantization: str | None = None
    """The checkpoint's `quantization_config.quant_method` (`fp8`, `mxfp4`, ...), if any."""
    quantization_detail: str | None = None
    """What else the config says about it (`weight_block_size [128, 128]`)."""
    attention_backend_check: str | None = None
    """`file:start-end` of a check that refuses the FlashInfer attention backend for this
    architecture, if SGLang has one."""
    fused_rope_kv_write: str | None = None
    """`file:line` of `enable_fused_set_kv_buffer`, which decides when a model's RoPE call
    also writes the KV cache."""
    swa_kv_pool: bool | None = False
    """Whether SGLang keeps the KV cache in a sliding-window pool (hybrid SWA memory: the
    architecture is hybrid-SWA and no override disables it); None when undecided. RoPE is
    never fused with the KV write into such a pool."""
    swa_kv_pool_reason: str = ""


def serving_facts(interp: ModelInterpreter, entry: ClassValue, architecture: str, config: dict[str, Any]) -> ServingFacts:
    overrides, overrides_source = _overrides(interp, architecture)
    dtype, dtype_reason = _dtype(interp, config, overrides, overrides_source)
    fused, fusion_reason = _shared_experts(interp, entry, config)
    swa_pool, swa_reason = _swa_kv_pool(interp, architecture, overrides)
    return ServingFacts(
        swa_kv_pool=swa_pool,
        swa_kv_pool_reason=swa_reason,
        dtype=dtype,
        dtype_reason=dtype_reason,
        overrides=overrides,
        overrides_source=overrides_source,
        fused_shared_experts=fused,
        shared_experts_reason=fusion_reason,
        **_quantization(config),
        attention_backend_check=_attention_backend_check(interp, architecture),
        fused_rope_kv_write=_definition_site(interp, "sglang.srt.models.utils", "enable_fused_set_kv_buffer"),
    )


def _definition_site(interp: ModelInterpreter, module: str, name: str) -> str | None:
    parsed = interp.index.module(module)
    if parsed is None:
        return None
    match = re.search(rf"^(?:def|class) {re.escape(name)}\b", parsed.source, re.M)
    return f"{parsed.relpath}:{parsed.source.count(chr(10), 0, match.start()) + 1}" if match else None


def _quantization(config: dict[str, Any]) -> dict[str, Any]:
    quantization = config.get("quantization_config")
    if not isinstance(quantization, dict):
        return {}
    method = quantization.get("quant_method")
    details = [f"{k} {quantization[k]}" for k in ("weight_block_size", "fmt", "activation_scheme") if quantization.get(k) is not None]
    return {"quantization": str(method) if method is not None else "unnamed", "quantization_detail": ", ".join(details) or None}


# ---------------------------------------------------------------------------- dtype


def _dtype(interp: ModelInterpreter, config: dict[str, Any], overrides: dict[str, Any], overrides_source: str | None) -> tuple[str, str]:
    rule = _definition_site(interp, "sglang.srt.configs.model_config", "_get_and_verify_dtype") or "SGLang's _get_and_verify_dtype"
    forced = overrides.get("dtype")
    if isinstance(forced, str) and forced in _DTYPES:
        return _DTYPES[forced], f"SGLang's override for this architecture sets dtype {forced} ({overrides_source})"
    stored = config.get("dtype") or config.get("torch_dtype")
    stored = _DTYPES.get(str(stored).removeprefix("torch.")) if stored is not None else None
    if stored is None:
        stored_text, stored = "no dtype in the config (read as float32)", "float32"
    else:
        stored_text = f"config dtype {stored}"
    if stored != "float32":
        return stored, f"{stored_text}: served as stored ({rule}, dtype=auto)"
    if str(config.get("model_type", "")).startswith("gemma"):
        return "bfloat16", f"{stored_text}: SGLang downcasts a float32 Gemma checkpoint to bfloat16 ({rule}, dtype=auto)"
    return "float16", f"{stored_text}: SGLang serves a float32 checkpoint in float16 ({rule}, dtype=auto)"


# ---------------------------------------------------------------------------- overrides

_OVERRIDES_PACKAGE = "sglang.srt.arg_groups.model_overrides"


def _overrides(interp: ModelInterpreter, architecture: str) -> tuple[dict[str, Any], str | None]:
    """What the override provider registered for `architecture` returns at default server
    arguments, evaluated by the interpreter."""
    directory = interp.index.source.package_dir / "srt" / "arg_groups" / "model_overrides"
    for path in sorted(directory.glob("*.py")) if directory.is_dir() else []:
        text = path.read_text(encoding="utf-8", errors="replace")
        if f'"{architecture}"' not in text:
            continue
        for function in ast.parse(text).body:
            if isinstance(function, ast.FunctionDef) and any(_registers(d, architecture) for d in function.decorator_list):
                parsed = interp.index.module(f"{_OVERRIDES_PACKAGE}.{path.stem}")
                value = interp.global_lookup(parsed, function.name) if parsed else None
                where = f"{parsed.relpath}:{function.lineno}" if parsed else None
                if not isinstance(value, FunctionValue):
                    return {}, where
                server_args = interp.runtime["get_server_args"]
                result = interp.call(value, [server_args, interp.config], {}, Frame(module=parsed, locals={}), value.node)
                return _known(result), where
    return {}, None


def _registers(decorator: ast.expr, architecture: str) -> bool:
    return isinstance(decorator, ast.Call) and any(isinstance(a, ast.Constant) and a.value == architecture for a in decorator.args)


def _known(result: Any) -> dict[str, Any]:
    options = result.options if isinstance(result, Choice) else [result]
    dicts = [o for o in options if isinstance(o, dict)]
    if not dicts:
        return {}
    known = {}
    for key in set().union(*dicts):
        values = {repr(unwrap(d.get(key))) for d in dicts}
        value = unwrap(dicts[0].get(key))
        if len(values) == 1 and isinstance(value, (str, int, float, bool)):
            known[str(key)] = value
    return known


# ---------------------------------------------------------------------------- shared experts


def _shared_experts(interp: ModelInterpreter, entry: ClassValue, config: dict[str, Any]) -> tuple[int | None, str]:
    """`resolve_shared_experts_config` at default server arguments (fusion not disabled):
    the model class's gate, then its count of fusable shared experts."""
    rule = _definition_site(interp, "sglang.srt.layers.moe.utils", "resolve_shared_experts_config") or "resolve_shared_experts_config"
    gate_owner, gate = interp.lookup_class_attr(entry, "shared_experts_fusion_disable_reason")
    count_owner, count = interp.lookup_class_attr(entry, "num_fusable_shared_experts")
    if gate is None or count is None or gate_owner is None or count_owner is None:
        return 0, f"{entry.name} declares no shared-expert fusion ({rule})"
    quant = quant_config_object(interp, config)
    reason = _call_classmethod(interp, entry, gate_owner, gate, "shared_experts_fusion_disable_reason", quant)
    gate_site = _site(interp, gate_owner, gate)
    if isinstance(reason, str) or (isinstance(unwrap(reason), str)):
        return 0, f"fusion off: {unwrap(reason)} ({gate_site})"
    if unwrap(reason) is not None:
        return None, f"whether SGLang fuses the shared experts could not be decided: {gate_owner.name}.shared_experts_fusion_disable_reason ({gate_site}) depends on runtime state"
    fused = unwrap(_call_classmethod(interp, entry, count_owner, count, "num_fusable_shared_experts"))
    if not isinstance(fused, int):
        return None, f"the number of fused shared experts could not be resolved ({_site(interp, count_owner, count)})"
    return fused, f"{gate_owner.name}.shared_experts_fusion_disable_reason ({gate_site}) has no objection at EP={interp.profile.ep} on CUDA, so {rule} fuses {fused} shared expert(s) into the routed experts"


def _call_classmethod(interp: ModelInterpreter, entry: ClassValue, owner: ClassValue, member: Any, name: str, *extra: Any) -> Any:
    value = interp._member_value(owner, member, entry, name)
    if not isinstance(value, FunctionValue):
        return Unknown(f"{name} is not a function")
    parsed = interp.index.module(owner.module)
    args = [interp.config, *extra]
    if value.kind == "method":  # a plain method read off the class: cls comes first
        args = [entry, *args]
    return interp.call(value, args, {}, Frame(module=parsed, locals={}), value.node)


def _site(interp: ModelInterpreter, owner: ClassValue, member: Any) -> str:
    parsed = interp.index.module(owner.module)
    where = parsed.location(member) if parsed else None
    return f"{where.file}:{where.start_line}" if where else owner.qualname


def quant_config_object(interp: ModelInterpreter, config: dict[str, Any]) -> Any:
    """The checkpoint's quantization config as SGLang's class for its method would answer:
    `get_name()` is the method; an attribute the class defines is unknown, any other is
    absent (`getattr(qc, "can_fuse_shared_expert", None)` is None for Fp8Config)."""
    quantization = config.get("quantization_config")
    if not isinstance(quantization, dict):
        return None
    method = quantization.get("quant_method")
    attrs: dict[str, Any] = {"get_name": Builtin("get_name", lambda *_a, **_k: method)}
    registry = interp.index.module("sglang.srt.layers.quantization")
    classes = interp.global_lookup(registry, "BASE_QUANTIZATION_METHODS") if registry else None
    cls = classes.get(method) if isinstance(classes, dict) else None
    if isinstance(cls, ClassValue):
        for klass in interp.mro(cls):
            for stmt in klass.node.body.body:
                name = getattr(getattr(stmt, "name", None), "value", None)
                if name and name != "get_name":
                    attrs.setdefault(name, Unknown(f"{klass.name}.{name}"))
    else:
        return Unknown(f"quant_config ({method})")
    return ProfileObject(f"quant_config {method}", attrs)


# ---------------------------------------------------------------------------- KV pool


def _swa_kv_pool(interp: ModelInterpreter, architecture: str, overrides: dict[str, Any]) -> tuple[bool | None, str]:
    """`is_hybrid_swa_model(architectures, text config) and not disable_hybrid_swa_memory`
    (ModelConfig._derive_hybrid_model), evaluated by the interpreter."""
    site = _definition_site(interp, "sglang.srt.configs.model_config", "is_hybrid_swa_model") or "is_hybrid_swa_model"
    if overrides.get("disable_hybrid_swa_memory") is True:
        return False, f"the architecture's override disables hybrid SWA memory, so the KV cache is one ordinary pool ({site})"
    parsed = interp.index.module("sglang.srt.configs.model_config")
    function = interp.global_lookup(parsed, "is_hybrid_swa_model") if parsed else None
    if not isinstance(function, FunctionValue):
        return None, f"whether SGLang uses a sliding-window KV pool could not be read ({site})"
    result = unwrap(interp.call(function, [[architecture], interp.config], {}, Frame(module=parsed, locals={}), function.node))
    if isinstance(result, bool):
        return result, f"{architecture} {'is' if result else 'is not'} a hybrid-SWA architecture for SGLang ({site})"
    return None, f"whether SGLang uses a sliding-window KV pool for {architecture} could not be decided ({site})"


# ---------------------------------------------------------------------------- attention backends


def _attention_backend_check(interp: ModelInterpreter, architecture: str) -> str | None:
    """The branch of arg_groups/model_hook.py for `architecture` that asserts its attention
    backend and does not allow flashinfer, as `file:start-end`."""
    parsed = interp.index.module("sglang.srt.arg_groups.model_hook")
    if parsed is None:
        return None
    tree = ast.parse(parsed.source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.If) or not _tests_architecture(node.test, architecture):
            continue
        body = ast.Module(body=node.body, type_ignores=[])
        asserts = [n for n in ast.walk(body) if isinstance(n, ast.Assert) and "backend" in ast.unparse(n.test)]
        if not asserts:
            continue
        allowed = {c.value for a in asserts for c in ast.walk(a.test) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
        lists = {c.value for n in ast.walk(body) if isinstance(n, (ast.List, ast.Tuple, ast.Set)) for c in n.elts if isinstance(c, ast.Constant) and isinstance(c.value, str)}
        excluded = "!=" in ast.unparse(asserts[0].test) and "flashinfer" in allowed
        if excluded or "flashinfer" not in (allowed | lists):
            end = max(getattr(n, "end_lineno", n.lineno) for n in asserts)
            return f"{parsed.relpath}:{node.lineno}-{end}"
    return None


def _tests_architecture(test: ast.expr, architecture: str) -> bool:
    names = {c.value for c in ast.walk(test) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return architecture in names and "model_arch" in ast.unparse(test)
