"""An abstract interpreter for the `__init__` code of SGLang model classes.

It executes model constructors over libcst trees with a concrete HF config and parallel
profile, so that `self.num_heads = num_heads // attn_tp_size` yields 8 for TP=4, and
records every SGLang layer the model builds (see `layer_catalog`). Where the code asks
something the parser cannot know (a runtime flag, a tensor), the value is `Unknown`;
an `if` on an unknown explores both branches and merges what each assigned into a
`Choice`. Nothing is imported or executed for real: only SGLang source text is read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import libcst as cst

from tools.model_parser import layer_catalog
from tools.model_parser.runtime import (
    CONFIG_DEFAULTS,
    TRUE_PREDICATES,
    ParallelProfile,
    ProfileObject,
    predicate_default,
    runtime_objects,
)
from tools.model_parser.source_index import ParsedModule, SourceIndex
from tools.model_parser.values import (
    BoundLeafClass,
    Choice,
    ClassValue,
    ConfigObject,
    EnumMember,
    External,
    FunctionValue,
    Instance,
    LambdaValue,
    LayerList,
    Leaf,
    Location,
    Sym,
    TensorValue,
    Unknown,
    apply_binary,
    apply_compare,
    expr_of,
    make_choice,
    truth,
    unwrap,
)

MAX_DEPTH = 48
MAX_STEPS = 400_000
MAX_LOOP = 1024


class _Dead(Exception):
    """The current path raises at run time, so it never happens."""

    def __init__(self, where: Location | None = None, what: str = "") -> None:
        super().__init__(what)
        self.where = where
        self.what = what


class _BudgetExceeded(Exception):
    pass


@dataclass
class _Return:
    value: Any


_BREAK = object()
_CONTINUE = object()
_DEAD = object()


@dataclass
class ModuleRef:
    dotted: str


@dataclass
class Builtin:
    name: str
    fn: Callable[..., Any]
    pytype: type | None = None


@dataclass
class Partial:
    fn: Any
    args: list[Any]
    kwargs: dict[str, Any]


@dataclass
class Frame:
    module: ParsedModule
    locals: dict[str, Any]
    cls: ClassValue | None = None
    self_obj: Any = None
    closure: dict[str, Any] | None = None
    conditions: list[str] = field(default_factory=list)
    pending_returns: list[Any] = field(default_factory=list)


@dataclass
class Diagnostic:
    message: str
    location: Location | None


class ModelInterpreter:
    """Builds the module tree of one SGLang model class for one config and profile."""

    def __init__(self, index: SourceIndex, config: dict[str, Any], profile: ParallelProfile) -> None:
        self.index = index
        self.config = ConfigObject(config)
        self.profile = profile
        self.runtime = runtime_objects(profile)
        self.diagnostics: list[Diagnostic] = []
        self.failures: list[Diagnostic] = []
        """Constructors that raise for this config and profile (the model cannot be built)."""
        self._diagnosed: set[tuple[str, str]] = set()
        self._globals_cache: dict[tuple[str, str], Any] = {}
        self._evaluating: set[tuple[str, str]] = set()
        self._class_cache: dict[int, ClassValue] = {}
        self._steps = 0
        self._depth = 0
        self._builtins = self._make_builtins()
        self.config.schema = self._config_schema(config.get("model_type"))

    # ------------------------------------------------------------------ entry points

    def find_class(self, module: str, name: str) -> ClassValue | None:
        parsed = self.index.module(module)
        if parsed is None:
            return None
        value = self.global_lookup(parsed, name)
        return value if isinstance(value, ClassValue) else None

    def build(self, entry: ClassValue) -> Instance:
        """Instantiate the model's entry class as SGLang's model loader does."""
        quant_config = Unknown("quant_config") if self.config.has("quantization_config") and self.config.data.get(
            "quantization_config"
        ) else None
        frame = Frame(module=self._module_of(entry), locals={})
        instance = self._instantiate(entry, [], {"config": self.config, "quant_config": quant_config, "prefix": ""}, frame, entry.node)
        assert isinstance(instance, Instance)
        return instance

    def _config_schema(self, model_type: Any) -> ClassValue | None:
        """SGLang's config class for `model_type` (in sglang/srt/configs/), if any."""
        if not isinstance(model_type, str):
            return None
        configs_dir = self.index.source.package_dir / "srt" / "configs"
        pattern = re.compile(r"^\s+model_type\s*=\s*[\"']" + re.escape(model_type) + r"[\"']", re.M)
        for path in sorted(configs_dir.glob("*.py")):
            text = path.read_text(encoding="utf-8", errors="replace")
            match = pattern.search(text)
            if not match:
                continue
            class_name = re.findall(r"^class (\w+)", text[: match.start()], re.M)
            if class_name:
                value = self.find_class(f"sglang.srt.configs.{path.stem}", class_name[-1])
                if value is not None:
                    return value
        return None

    def _config_fallback(self, config: ConfigObject, name: str, frame: Frame) -> Any:
        """A field config.json lacks: from SGLang's config class, else transformers' defaults."""
        schema = config.schema
        if schema is not None:
            owner, member = self.lookup_class_attr(schema, name)
            if member is not None and owner is not None:
                value = self._member_value(owner, member, config, name)
                if not isinstance(value, Unknown):
                    return value
            _, init = self.lookup_class_attr(schema, "__init__")
            if isinstance(init, cst.FunctionDef):
                for param in list(init.params.params) + list(init.params.kwonly_params):
                    if param.name.value == name and param.default is not None:
                        return self._safe_eval(param.default, Frame(module=self._module_of(schema), locals={}))
        if name in CONFIG_DEFAULTS:
            return CONFIG_DEFAULTS[name]
        return Unknown(f"{config.path}.{name} (not in config)")

    def _diagnose(self, message: str, location: Location | None) -> None:
        key = (message, str(location))
        if key not in self._diagnosed:
            self._diagnosed.add(key)
            self.diagnostics.append(Diagnostic(message, location))

    # ------------------------------------------------------------------ name resolution

    def global_lookup(self, module: ParsedModule, name: str) -> Any:
        key = (module.name, name)
        if key in self._globals_cache:
            return self._globals_cache[key]
        binding = module.lookup(name)
        if binding is None:
            star = self.index.star_source(module, name)
            if star is not None:
                value = self.resolve_qualified(f"{star}.{name}")
                self._globals_cache[key] = value
                return value
            value = self._builtins.get(name, Unknown(f"name {name}"))
            if isinstance(value, Unknown) and self.index.is_package(module.name):
                sub = self.index.module(f"{module.name}.{name}")
                if sub is not None:
                    value = ModuleRef(sub.name)
            self._globals_cache[key] = value
            return value
        if key in self._evaluating:
            return Unknown(f"recursive definition of {name}")
        self._evaluating.add(key)
        try:
            if binding.kind == "class":
                value = self._class_value(module, binding.node)
            elif binding.kind == "function":
                value = FunctionValue(name=name, module=module.name, node=binding.node)
            elif binding.kind == "import":
                value = self.resolve_qualified(binding.target or name)
            else:
                frame = Frame(module=module, locals={})
                value = self._safe_eval(binding.node, frame)
        finally:
            self._evaluating.discard(key)
        self._globals_cache[key] = value
        return value

    def resolve_qualified(self, qualname: str) -> Any:
        """A dotted name from an import: an SGLang module or definition, or an external."""
        if not qualname.startswith("sglang"):
            return self._builtins.get(qualname) or External(qualname)
        if self.index.module(qualname) is not None:
            return ModuleRef(qualname)
        module_name, _, attr = qualname.rpartition(".")
        parsed = self.index.module(module_name)
        if parsed is None:
            return Unknown(f"missing module {module_name}")
        return self.global_lookup(parsed, attr)

    def _class_value(self, module: ParsedModule, node: cst.ClassDef) -> ClassValue:
        cached = self._class_cache.get(id(node))
        if cached is not None:
            return cached
        value = ClassValue(name=node.name.value, module=module.name, node=node)
        self._class_cache[id(node)] = value
        frame = Frame(module=module, locals={})
        value.bases = [self._safe_eval(arg.value, frame) for arg in node.bases if arg.keyword is None]
        return value

    def _module_of(self, value: ClassValue | FunctionValue) -> ParsedModule:
        parsed = self.index.module(value.module)
        assert parsed is not None
        return parsed

    # ------------------------------------------------------------------ classes

    def mro(self, cls: ClassValue) -> list[ClassValue]:
        bases = [b for b in cls.bases if isinstance(b, ClassValue)]
        sequences = [self.mro(b) for b in bases] + [bases]
        result = [cls]
        while True:
            sequences = [s for s in sequences if s]
            if not sequences:
                return result
            for seq in sequences:
                head = seq[0]
                if not any(head in s[1:] for s in sequences):
                    break
            else:  # inconsistent hierarchy: fall back to depth-first order
                for seq in sequences:
                    for c in seq:
                        if c not in result:
                            result.append(c)
                return result
            result.append(head)
            sequences = [s[1:] if s[0] is head else s for s in sequences]

    def _class_member(self, cls: ClassValue, name: str) -> cst.CSTNode | None:
        for stmt in cls.node.body.body:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.name.value == name:
                return stmt
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign):
                        for target in small.targets:
                            if isinstance(target.target, cst.Name) and target.target.value == name:
                                return small
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                        if small.target.value == name and small.value is not None:
                            return small
        return None

    def lookup_class_attr(self, cls: ClassValue, name: str, start_after: ClassValue | None = None):
        """(owner, member node) for `name` along the MRO, or (None, None)."""
        order = self.mro(cls)
        if start_after is not None and start_after in order:
            order = order[order.index(start_after) + 1 :]
        for owner in order:
            member = self._class_member(owner, name)
            if member is not None:
                return owner, member
        return None, None

    def _member_value(self, owner: ClassValue, member: cst.CSTNode, obj: Any, name: str) -> Any:
        module = self._module_of(owner)
        if isinstance(member, cst.FunctionDef):
            decorators = {_decorator_name(d) for d in member.decorators}
            if "staticmethod" in decorators:
                return FunctionValue(name, owner.module, member, owner=owner, kind="staticmethod")
            if "classmethod" in decorators:
                bound = obj.cls if isinstance(obj, Instance) else obj
                return FunctionValue(name, owner.module, member, owner=owner, bound_self=bound, kind="classmethod")
            bound = obj if isinstance(obj, (Instance, ConfigObject)) else None
            fn = FunctionValue(name, owner.module, member, owner=owner, bound_self=bound, kind="method")
            if decorators & {"property", "cached_property", "functools.cached_property"} and bound is not None:
                return self._call_function(fn, [], {}, Frame(module=module, locals={}), member)
            return fn
        if isinstance(member, cst.ClassDef):
            return self._class_value(module, member)
        value_node = member.value if isinstance(member, (cst.Assign, cst.AnnAssign)) else None
        if value_node is None:
            return Unknown(f"class attribute {name}")
        value = self._safe_eval(value_node, Frame(module=module, locals={}, cls=owner))
        enum_kind = self._enum_kind(owner)
        if enum_kind is not None and not name.startswith("_") and not isinstance(value, (FunctionValue, ClassValue)):
            return EnumMember(enum=owner.name, name=name, value=value, mixin=enum_kind == "mixin")
        return value

    def _instantiate(self, cls: ClassValue, args: list[Any], kwargs: dict[str, Any], frame: Frame, node: cst.CSTNode) -> Any:
        location = frame.module.location(node)
        conditions = tuple(frame.conditions)
        if cls.name in layer_catalog.LEAF_CLASSES:
            return self._make_leaf(cls.name, layer_catalog.LEAF_CLASSES[cls.name], cls, args, kwargs, frame, location)
        in_models = cls.module.startswith("sglang.srt.models")
        if cls.name in layer_catalog.SILENT_CLASSES:
            return Unknown(f"{cls.name} (no kernel)")
        if not in_models:
            if self._is_module_class(cls):
                return Leaf(kind="unknown", class_name=cls.name, params=self._bind_leaf(cls, args, kwargs, frame, ()), location=location, conditions=conditions)
            if self._is_dataclass(cls):
                return self._dataclass_instance(cls, args, kwargs, frame, location)
        # Model classes, and plain (non-module) helper classes from anywhere in SGLang,
        # are built by interpreting their __init__.
        torch_base = self._torch_leaf_base(cls)
        if torch_base is not None:
            kind, fallback = _TORCH_LEAVES[torch_base]
            return self._make_leaf(cls.name, layer_catalog.LeafSpec(kind, fallback), cls, args, kwargs, frame, location)
        instance = Instance(cls=cls, location=location, conditions=conditions)
        owner, init = self.lookup_class_attr(cls, "__init__")
        if isinstance(init, cst.FunctionDef) and owner is not None:
            fn = FunctionValue("__init__", owner.module, init, owner=owner, bound_self=instance, kind="method")
            self._call_function(fn, args, kwargs, frame, node, on_raise=self.failures)
        return instance

    def _torch_leaf_base(self, cls: ClassValue) -> str | None:
        """'Embedding'/'Linear'/'LayerNorm' when a model class subclasses that torch module."""
        for klass in self.mro(cls):
            for base in klass.bases:
                if isinstance(base, External) and base.qualname.startswith(("torch.nn.", "nn.")):
                    short = base.qualname.rsplit(".", 1)[-1]
                    if short in _TORCH_LEAVES:
                        return short
        return None

    def _enum_kind(self, cls: ClassValue) -> str | None:
        """'plain' for enum.Enum subclasses, 'mixin' for IntEnum/StrEnum/(str, Enum); else None."""
        names = set()
        for klass in self.mro(cls):
            for base in klass.bases:
                names.add(base.qualname.rsplit(".", 1)[-1] if isinstance(base, External) else getattr(base, "name", ""))
                if isinstance(base, Builtin) and base.pytype in (int, str):
                    names.add("mixin")
        if not names & {"Enum", "IntEnum", "StrEnum", "IntFlag", "Flag"}:
            return None
        return "mixin" if names & {"IntEnum", "StrEnum", "IntFlag", "mixin"} else "plain"

    def _is_dataclass(self, cls: ClassValue) -> bool:
        return any(_decorator_name(d).split(".")[-1] == "dataclass" for d in cls.node.decorators)

    def _dataclass_instance(self, cls: ClassValue, args, kwargs, frame: Frame, location) -> Instance:
        """A @dataclass instance: its fields bound from the constructor arguments."""
        fields: list[tuple[str, cst.BaseExpression | None]] = []
        for klass in reversed(self.mro(cls)):
            for stmt in klass.node.body.body:
                if isinstance(stmt, cst.SimpleStatementLine):
                    for small in stmt.body:
                        if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                            if "ClassVar" in _code(small.annotation.annotation):
                                continue
                            fields = [f for f in fields if f[0] != small.target.value] + [(small.target.value, small.value)]
        instance = Instance(cls=cls, location=location, conditions=tuple(frame.conditions))
        module = self._module_of(cls)
        for i, (name, default) in enumerate(fields):
            if i < len(args):
                instance.attrs[name] = args[i]
            elif name in kwargs:
                instance.attrs[name] = kwargs[name]
            elif default is not None:
                value = self._safe_eval(default, Frame(module=module, locals={}))
                instance.attrs[name] = Unknown(f"{cls.name}.{name} default") if isinstance(value, Unknown) or "field(" in _code(default) else value
        return instance

    def _is_module_class(self, cls: ClassValue) -> bool:
        for klass in self.mro(cls):
            for base in klass.bases:
                name = base.qualname.rsplit(".", 1)[-1] if isinstance(base, External) else getattr(base, "name", "")
                if name in layer_catalog.MODULE_BASES:
                    return True
        return False

    def _make_leaf(self, name: str, spec: layer_catalog.LeafSpec, source: Any, args, kwargs, frame: Frame, location) -> Leaf:
        params = self._bind_leaf(source, args, kwargs, frame, spec.fallback_params)
        return Leaf(kind=spec.kind, class_name=name, params=params, location=location, conditions=tuple(frame.conditions))

    def _bind_leaf(self, source: Any, args, kwargs, frame: Frame, fallback: tuple[str, ...]) -> dict[str, Any]:
        signature: cst.Parameters | None = None
        module = frame.module
        if isinstance(source, ClassValue):
            owner, init = self.lookup_class_attr(source, "__init__")
            if isinstance(init, cst.FunctionDef) and owner is not None:
                signature, module = init.params, self._module_of(owner)
        elif isinstance(source, FunctionValue):
            signature, module = source.node.params, self._module_of(source)
        if signature is not None:
            skip_self = isinstance(source, ClassValue)
            try:
                bound = self._bind(signature, args, kwargs, Frame(module=module, locals={}), skip_self=skip_self, lenient=True)
                bound.update({k: v for k, v in kwargs.items() if k not in bound})
                return bound
            except _Dead:
                pass
        params = dict(zip(fallback, args))
        params.update(kwargs)
        return params

    # ------------------------------------------------------------------ calls

    def call(self, callee: Any, args: list[Any], kwargs: dict[str, Any], frame: Frame, node: cst.CSTNode) -> Any:
        if isinstance(callee, Choice):
            return make_choice([self.call(o, args, kwargs, frame, node) for o in callee.options])
        if isinstance(callee, Builtin):
            return callee.fn(frame, node, *args, **kwargs)
        if isinstance(callee, Partial):
            return self.call(callee.fn, callee.args + list(args), {**callee.kwargs, **kwargs}, frame, node)
        if isinstance(callee, ClassValue):
            return self._instantiate(callee, args, kwargs, frame, node)
        if isinstance(callee, BoundLeafClass):
            spec = layer_catalog.LeafSpec(callee.kind, callee.param_names)
            return self._make_leaf(callee.class_name, spec, None, args, kwargs, frame, frame.module.location(node))
        if isinstance(callee, FunctionValue):
            return self._call_named_function(callee, args, kwargs, frame, node)
        if isinstance(callee, LambdaValue):
            return self._call_lambda(callee, args, kwargs, frame)
        if isinstance(callee, External):
            return self._call_external(callee, args, kwargs, frame, node)
        if isinstance(callee, Unknown):
            return Unknown(f"call of {callee.reason}")
        value = unwrap(callee)
        if callable(value) and getattr(value, "__self__", None) is not None:
            # A method of a plain container or string (dict.get, list.append, str.lower).
            try:
                return value(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
            except Exception as exc:
                return Unknown(f"{type(exc).__name__} in {getattr(value, '__name__', 'method')}")
        return Unknown(f"call of {type(value).__name__}")

    def _call_named_function(self, fn: FunctionValue, args, kwargs, frame: Frame, node) -> Any:
        name = fn.name
        if name in self.runtime and fn.owner is None:
            return self.runtime[name]
        if name in TRUE_PREDICATES:
            return True
        if name in layer_catalog.LEAF_FACTORIES and fn.owner is None:
            return self._make_leaf(name, layer_catalog.LEAF_FACTORIES[name], fn, args, kwargs, frame, frame.module.location(node))
        if name in layer_catalog.LAYER_LIST_FACTORIES and fn.owner is None:
            return self._layer_list_factory(fn, args, kwargs, frame, node)
        if name in ("get_bool_env_var", "get_int_env_var", "get_float_env_var"):
            default = args[1] if len(args) > 1 else kwargs.get("default", "false" if name == "get_bool_env_var" else 0)
            default = unwrap(default)
            return str(default).lower() in ("1", "true") if name == "get_bool_env_var" else default
        result = self._call_function(fn, args, kwargs, frame, node)
        if isinstance(result, Unknown):
            guess = predicate_default(name)
            if guess is not None:
                return guess
        return result

    def _call_function(self, fn: FunctionValue, args, kwargs, caller: Frame, node, on_raise: list | None = None) -> Any:
        if self._depth >= MAX_DEPTH:
            return Unknown(f"call depth at {fn.name}")
        module = self._module_of(fn)
        frame = Frame(
            module=module,
            locals={},
            cls=fn.owner,
            self_obj=fn.bound_self,
            closure=fn.closure,
            conditions=list(caller.conditions),
        )
        positional = list(args)
        if fn.kind in ("method", "classmethod") and fn.bound_self is not None:
            positional = [fn.bound_self] + positional
        try:
            frame.locals = self._bind(fn.node.params, positional, kwargs, frame)
        except _Dead:
            return Unknown(f"bad arguments to {fn.name}")
        self._depth += 1
        try:
            body = fn.node.body.body if isinstance(fn.node.body, cst.IndentedBlock) else fn.node.body.body
            flow = self.exec_block(body, frame)
        except _Dead as dead:
            if on_raise is not None and not caller.conditions:
                on_raise.append(Diagnostic(f"{fn.owner.name if fn.owner else fn.name}.__init__ raises: {dead.what}", dead.where))
            return Unknown(f"{fn.name} raises")
        except _BudgetExceeded:
            raise
        except RecursionError:
            return Unknown(f"recursion in {fn.name}")
        finally:
            self._depth -= 1
        results = list(frame.pending_returns)
        if isinstance(flow, _Return):
            results.append(flow.value)
        elif flow is _DEAD:
            if not results:
                return Unknown(f"{fn.name} raises")
        else:
            results.append(None)
        return make_choice(results)

    def _call_lambda(self, fn: LambdaValue, args, kwargs, caller: Frame) -> Any:
        module = self.index.module(fn.module)
        assert module is not None
        frame = Frame(module=module, locals={}, cls=fn.frame_class, self_obj=fn.self_obj, closure=fn.env, conditions=list(caller.conditions))
        try:
            frame.locals = self._bind(fn.node.params, list(args), kwargs, frame)
        except _Dead:
            return Unknown("bad arguments to lambda")
        return self.eval(fn.node.body, frame)

    def _bind(self, params: cst.Parameters, args: list[Any], kwargs: dict[str, Any], frame: Frame, *, skip_self: bool = False, lenient: bool = False) -> dict[str, Any]:
        names: list[cst.Param] = list(params.posonly_params) + list(params.params)
        if skip_self and names:
            names = names[1:]
        bound: dict[str, Any] = {}
        remaining = dict(kwargs)
        extra_args = list(args[len(names):])
        for i, param in enumerate(names):
            pname = param.name.value
            if i < len(args):
                bound[pname] = args[i]
            elif pname in remaining:
                bound[pname] = remaining.pop(pname)
            elif param.default is not None:
                bound[pname] = self._safe_eval(param.default, frame)
            elif lenient:
                continue
            else:
                bound[pname] = Unknown(f"missing argument {pname}")
        for param in params.kwonly_params:
            pname = param.name.value
            if pname in remaining:
                bound[pname] = remaining.pop(pname)
            elif param.default is not None:
                bound[pname] = self._safe_eval(param.default, frame)
            elif not lenient:
                bound[pname] = Unknown(f"missing argument {pname}")
        if isinstance(params.star_arg, cst.Param):
            bound[params.star_arg.name.value] = tuple(extra_args)
        if params.star_kwarg is not None:
            bound[params.star_kwarg.name.value] = remaining
        elif lenient:
            bound.update(remaining)
        return bound

    def _layer_list_factory(self, fn: FunctionValue, args, kwargs, frame: Frame, node) -> Any:
        bound = self._bind_leaf(fn, args, kwargs, frame, ("num_hidden_layers", "layer_fn"))
        count = unwrap(bound.get("num_hidden_layers"))
        layer_fn = bound.get("layer_fn")
        prefix = unwrap(bound.get("prefix", "")) or ""
        if not isinstance(count, int):
            layers: list[Any] = [Unknown("layer count")]
        else:
            layers = []
            for idx in range(min(count, MAX_LOOP)):
                layer_prefix = f"{prefix}.{idx}" if prefix else str(idx)
                layers.append(self.call(layer_fn, [], {"idx": Sym(idx, "layer_id"), "prefix": layer_prefix}, frame, node))
        stack = LayerList(layers=layers, location=frame.module.location(node))
        with_range = fn.name == "make_pp_layers" or (bound.get("pp_rank") is not None and bound.get("pp_size") is not None)
        return (stack, 0, count) if with_range else stack

    def _call_external(self, callee: External, args, kwargs, frame: Frame, node) -> Any:
        name = callee.qualname
        short = name.rsplit(".", 1)[-1]
        if name.startswith(("torch.nn.", "nn.")) and short in _TORCH_LEAVES:
            kind, params = _TORCH_LEAVES[short]
            bound = dict(zip(params, args))
            bound.update(kwargs)
            return Leaf(kind=kind, class_name=f"nn.{short}", params=bound, location=frame.module.location(node), conditions=tuple(frame.conditions))
        if name.startswith(("torch.nn.", "nn.")) and short[:1].isupper() and short not in _TORCH_CONTAINERS:
            # A torch module the parser has no kernel mapping for: report it, never drop it.
            return Leaf(kind="unknown", class_name=f"nn.{short}", params={}, location=frame.module.location(node), conditions=tuple(frame.conditions))
        if short in ("ModuleList", "Sequential"):
            items = list(args[0]) if args and isinstance(args[0], (list, tuple)) else list(args)
            return LayerList(layers=items, location=frame.module.location(node))
        if short == "ModuleDict":
            return dict(args[0]) if args and isinstance(args[0], dict) else {}
        if short in ("partial",) and args:
            return Partial(args[0], list(args[1:]), dict(kwargs))
        if name.startswith("torch.") and short in _TENSOR_FACTORIES:
            dims = args[0] if len(args) == 1 and isinstance(unwrap(args[0]), (tuple, list)) else args
            dtype = kwargs.get("dtype")
            return TensorValue(shape=tuple(dims), dtype=dtype.qualname.rsplit(".", 1)[-1] if isinstance(dtype, External) else None)
        if short == "Parameter" and args:
            return args[0] if isinstance(args[0], TensorValue) else Unknown("parameter")
        if name == "torch.cuda.is_available":
            return True  # the parser models a CUDA machine
        guess = predicate_default(short)
        if guess is not None:
            return guess
        return Unknown(f"{name}(...)")

    # ------------------------------------------------------------------ statements

    def exec_block(self, body, frame: Frame) -> Any:
        for stmt in body:
            self._steps += 1
            if self._steps > MAX_STEPS:
                raise _BudgetExceeded()
            flow = self.exec_stmt(stmt, frame)
            if flow is not None:
                return flow
        return None

    def exec_stmt(self, stmt: cst.CSTNode, frame: Frame) -> Any:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                flow = self._exec_small(small, frame)
                if flow is not None:
                    return flow
            return None
        if isinstance(stmt, cst.If):
            return self._exec_if(stmt, frame)
        if isinstance(stmt, cst.For):
            return self._exec_for(stmt, frame)
        if isinstance(stmt, cst.Try):
            flow = self.exec_block(stmt.body.body, frame)
            if flow is None and stmt.orelse is not None:
                flow = self.exec_block(stmt.orelse.body.body, frame)
            if stmt.finalbody is not None:
                self.exec_block(stmt.finalbody.body.body, frame)
            return flow
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                value = self._safe_eval(item.item, frame)
                if item.asname is not None:
                    self._assign(item.asname.name, value, frame)
            return self.exec_block(stmt.body.body, frame)
        if isinstance(stmt, cst.FunctionDef):
            decorators = {_decorator_name(d) for d in stmt.decorators}
            frame.locals[stmt.name.value] = FunctionValue(
                stmt.name.value, frame.module.name, stmt, closure=self._closure(frame),
                kind="function" if not decorators else "function",
            )
            return None
        if isinstance(stmt, cst.ClassDef):
            frame.locals[stmt.name.value] = self._class_value(frame.module, stmt)
            return None
        return None  # while loops and anything else: skipped

    def _closure(self, frame: Frame) -> dict[str, Any]:
        env = dict(frame.closure or {})
        env.update(frame.locals)
        return env

    def _exec_small(self, small: cst.BaseSmallStatement, frame: Frame) -> Any:
        if isinstance(small, cst.Expr):
            self._safe_eval(small.value, frame)
        elif isinstance(small, cst.Assign):
            value = self._safe_eval(small.value, frame)
            for target in small.targets:
                self._assign(target.target, value, frame)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self._assign(small.target, self._safe_eval(small.value, frame), frame)
        elif isinstance(small, cst.AugAssign):
            current = self._safe_eval(small.target, frame)
            op = small.operator.__class__.__name__
            value = apply_binary(_AUG_OPS.get(op, "+"), current, self._safe_eval(small.value, frame))
            self._assign(small.target, value, frame)
        elif isinstance(small, cst.Return):
            return _Return(self._safe_eval(small.value, frame) if small.value is not None else None)
        elif isinstance(small, cst.Raise):
            raise _Dead(frame.module.location(small), _code(small)[:160])
        elif isinstance(small, cst.Assert):
            if truth(self._safe_eval(small.test, frame)) is False:
                raise _Dead(frame.module.location(small), _code(small)[:160])
        elif isinstance(small, cst.Break):
            return _BREAK
        elif isinstance(small, cst.Continue):
            return _CONTINUE
        elif isinstance(small, cst.ImportFrom):
            self._local_import_from(small, frame)
        elif isinstance(small, cst.Import):
            for alias in small.names:
                name = _dotted(alias.name)
                local = alias.asname.name.value if alias.asname else name.split(".")[0]
                frame.locals[local] = self.resolve_qualified(name if alias.asname else name.split(".")[0])
        return None

    def _local_import_from(self, small: cst.ImportFrom, frame: Frame) -> None:
        if isinstance(small.names, cst.ImportStar) or small.module is None and not small.relative:
            return
        level = len(small.relative)
        module = _dotted(small.module) if small.module is not None else ""
        if level:
            package = frame.module.name.rsplit(".", level)[0]
            module = f"{package}.{module}" if module else package
        for alias in small.names:
            name = _dotted(alias.name)
            local = alias.asname.name.value if alias.asname else name
            frame.locals[local] = self.resolve_qualified(f"{module}.{name}")

    def _exec_if(self, stmt: cst.If, frame: Frame) -> Any:
        test = self._safe_eval(stmt.test, frame)
        known = truth(test)
        orelse = stmt.orelse
        if known is True:
            return self.exec_block(stmt.body.body, frame)
        if known is False:
            return self._exec_orelse(orelse, frame)
        text = _code(stmt.test)
        before = _snapshot(frame)
        frame.conditions.append(text)
        flow_a, state_a = self._run_branch(lambda: self.exec_block(stmt.body.body, frame), frame)
        frame.conditions.pop()
        _restore(frame, before)
        frame.conditions.append(f"not ({text})")
        flow_b, state_b = self._run_branch(lambda: self._exec_orelse(orelse, frame), frame)
        frame.conditions.pop()
        return self._merge(frame, flow_a, state_a, flow_b, state_b)

    def _run_branch(self, run: Callable[[], Any], frame: Frame):
        try:
            flow = run()
        except _Dead:
            flow = _DEAD
        return flow, _snapshot(frame)

    def _exec_orelse(self, orelse, frame: Frame) -> Any:
        if orelse is None:
            return None
        if isinstance(orelse, cst.If):
            return self._exec_if(orelse, frame)
        return self.exec_block(orelse.body.body, frame)

    def _merge(self, frame: Frame, flow_a, state_a, flow_b, state_b) -> Any:
        if flow_a is _DEAD and flow_b is _DEAD:
            raise _Dead()
        if flow_a is _DEAD:
            _restore(frame, state_b)
            return flow_b
        if flow_b is _DEAD:
            _restore(frame, state_a)
            return flow_a
        if isinstance(flow_a, _Return) and isinstance(flow_b, _Return):
            return _Return(make_choice([flow_a.value, flow_b.value]))
        if isinstance(flow_a, _Return):
            frame.pending_returns.append(flow_a.value)
            _restore(frame, state_b)
            return None
        if isinstance(flow_b, _Return):
            frame.pending_returns.append(flow_b.value)
            _restore(frame, state_a)
            return None
        _restore(frame, _merge_states(state_a, state_b))
        return None

    def _exec_for(self, stmt: cst.For, frame: Frame) -> Any:
        iterable = unwrap(self._safe_eval(stmt.iter, frame))
        if isinstance(iterable, dict):
            iterable = list(iterable)
        if not isinstance(iterable, (list, tuple, range, set, frozenset, str)):
            return None  # an unknown iterable: its body cannot be followed
        for count, item in enumerate(iterable):
            if count >= MAX_LOOP:
                break
            self._assign(stmt.target, item, frame)
            flow = self.exec_block(stmt.body.body, frame)
            if flow is _BREAK:
                return None
            if isinstance(flow, _Return) or flow is _DEAD:
                return flow
        else:
            if stmt.orelse is not None:
                return self.exec_block(stmt.orelse.body.body, frame)
        return None

    def _assign(self, target: cst.BaseExpression, value: Any, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            frame.locals[target.value] = value
        elif isinstance(target, cst.Attribute):
            obj = self._safe_eval(target.value, frame)
            if isinstance(obj, (Instance, Leaf)):
                obj.attrs[target.attr.value] = value
            elif isinstance(obj, ProfileObject):
                obj.attrs[target.attr.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            items = unwrap(value)
            if isinstance(items, (list, tuple)) and not any(isinstance(e, cst.StarredElement) for e in elements) and len(items) == len(elements):
                for element, item in zip(elements, items):
                    self._assign(element.value, item, frame)
            else:
                for element in elements:
                    inner = element.value
                    self._assign(inner, Unknown("unpacked value"), frame)
        elif isinstance(target, cst.Subscript):
            container = self._safe_eval(target.value, frame)
            if isinstance(container, (dict, list)) and len(target.slice) == 1:
                index_node = target.slice[0].slice
                if isinstance(index_node, cst.Index):
                    key = unwrap(self._safe_eval(index_node.value, frame))
                    try:
                        container[key] = value
                    except Exception:
                        pass

    # ------------------------------------------------------------------ expressions

    def _safe_eval(self, node: cst.BaseExpression, frame: Frame) -> Any:
        try:
            return self.eval(node, frame)
        except (_Dead, _BudgetExceeded):
            raise
        except RecursionError:
            return Unknown("recursion")
        except Exception as exc:  # an unsupported construct must not abort the whole model
            self._diagnose(f"could not evaluate `{_code(node)[:80]}`: {type(exc).__name__}: {exc}", frame.module.location(node))
            return Unknown(f"unsupported: {_code(node)[:60]}")

    def eval(self, node: cst.BaseExpression, frame: Frame) -> Any:
        method = getattr(self, "_eval_" + type(node).__name__, None)
        if method is None:
            return Unknown(f"{type(node).__name__} expression")
        return method(node, frame)

    def _eval_Name(self, node: cst.Name, frame: Frame) -> Any:
        name = node.value
        if name in frame.locals:
            return frame.locals[name]
        if frame.closure and name in frame.closure:
            return frame.closure[name]
        if name == "None":
            return None
        if name == "True":
            return True
        if name == "False":
            return False
        return self.global_lookup(frame.module, name)

    def _eval_Integer(self, node: cst.Integer, frame: Frame) -> Any:
        return node.evaluated_value

    def _eval_Float(self, node: cst.Float, frame: Frame) -> Any:
        return node.evaluated_value

    def _eval_Imaginary(self, node, frame):
        return node.evaluated_value

    def _eval_SimpleString(self, node: cst.SimpleString, frame: Frame) -> Any:
        return node.evaluated_value

    def _eval_ConcatenatedString(self, node: cst.ConcatenatedString, frame: Frame) -> Any:
        left, right = self.eval(node.left, frame), self.eval(node.right, frame)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        return Unknown("string")

    def _eval_FormattedString(self, node: cst.FormattedString, frame: Frame) -> Any:
        parts = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value)
            else:
                value = unwrap(self._safe_eval(part.expression, frame))
                if isinstance(value, Unknown):
                    return Unknown("f-string")
                parts.append(str(value))
        return "".join(parts)

    def _eval_Ellipsis(self, node, frame):
        return Ellipsis

    def _eval_Attribute(self, node: cst.Attribute, frame: Frame) -> Any:
        return self.get_attr(self.eval(node.value, frame), node.attr.value, frame)

    def get_attr(self, obj: Any, name: str, frame: Frame) -> Any:
        if isinstance(obj, _SuperProxy):
            return self._super_attr(obj, name)
        if isinstance(obj, Choice):
            return make_choice([self.get_attr(o, name, frame) for o in obj.options])
        if isinstance(obj, Unknown):
            return Unknown(f"{obj.reason}.{name}")
        if isinstance(obj, EnumMember):
            if name == "value":
                return obj.value
            if name == "name":
                return obj.name
            return Unknown(f"{obj!r}.{name}")
        if isinstance(obj, ConfigObject):
            if obj.has(name):
                return obj.get(name)
            if name == "get_text_config":
                sub = obj.get("text_config") if obj.has("text_config") else obj
                return Builtin("get_text_config", lambda *_a, **_k: sub)
            if name in ("to_dict",):
                return Builtin("to_dict", lambda *_a, **_k: dict(obj.data))
            return self._config_fallback(obj, name, frame)
        if isinstance(obj, Instance):
            if name in obj.attrs:
                return obj.attrs[name]
            owner, member = self.lookup_class_attr(obj.cls, name)
            if member is not None and owner is not None:
                return self._member_value(owner, member, obj, name)
            return Unknown(f"{obj.cls.name}.{name}")
        if isinstance(obj, ClassValue):
            owner, member = self.lookup_class_attr(obj, name)
            if member is not None and owner is not None:
                return self._member_value(owner, member, obj, name)
            return Unknown(f"{obj.name}.{name}")
        if isinstance(obj, Leaf):
            if name in obj.attrs:
                return obj.attrs[name]
            return Unknown(f"{obj.class_name}.{name}")
        if isinstance(obj, ProfileObject):
            if name in obj.attrs:
                return obj.attrs[name]
            return Unknown(f"{obj.name}.{name}")
        if isinstance(obj, ModuleRef):
            return self.resolve_qualified(f"{obj.dotted}.{name}")
        if isinstance(obj, External):
            qual = f"{obj.qualname}.{name}"
            return self._builtins.get(qual) or External(qual)
        if isinstance(obj, Builtin) and obj.pytype is not None:
            return Unknown(f"{obj.name}.{name}")
        value = unwrap(obj)
        if isinstance(value, (str, list, dict, tuple, set, int, float)) and not name.startswith("_"):
            try:
                return getattr(value, name)
            except AttributeError:
                return Unknown(f"{type(value).__name__}.{name}")
        return Unknown(f"attribute {name}")

    def _eval_Call(self, node: cst.Call, frame: Frame) -> Any:
        if isinstance(node.func, cst.Name) and node.func.value == "super":
            return _SuperProxy(self, frame, node)
        callee = self.eval(node.func, frame)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for arg in node.args:
            value = self._safe_eval(arg.value, frame)
            if arg.star == "*":
                items = unwrap(value)
                if isinstance(items, (list, tuple)):
                    args.extend(items)
                else:
                    return Unknown("call with *args")
            elif arg.star == "**":
                if isinstance(value, dict):
                    kwargs.update({str(k): v for k, v in value.items()})
                elif isinstance(value, Choice):
                    dicts = [o for o in value.options if isinstance(o, dict)]
                    if dicts:
                        kwargs.update({str(k): v for k, v in dicts[0].items()})
            elif arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            else:
                args.append(value)
        if isinstance(callee, _SuperProxy):
            return Unknown("super()")
        if isinstance(callee, Unknown) and isinstance(node.func, cst.Attribute):
            guess = predicate_default(node.func.attr.value)
            if guess is not None:
                return guess
        return self.call(callee, args, kwargs, frame, node)

    def _eval_BinaryOperation(self, node: cst.BinaryOperation, frame: Frame) -> Any:
        op = _BIN_OPS[type(node.operator).__name__]
        return apply_binary(op, self.eval(node.left, frame), self.eval(node.right, frame))

    def _eval_UnaryOperation(self, node: cst.UnaryOperation, frame: Frame) -> Any:
        value = self.eval(node.expression, frame)
        op = type(node.operator).__name__
        if op == "Not":
            known = truth(value)
            return Unknown("not ...") if known is None else (not known)
        if isinstance(value, (Unknown, Choice)):
            return value if isinstance(value, Unknown) else make_choice([apply_binary("*", o, -1) if op == "Minus" else o for o in value.options])
        raw = unwrap(value)
        try:
            result = -raw if op == "Minus" else (+raw if op == "Plus" else ~raw)
        except Exception:
            return Unknown("unary")
        return Sym(result, f"-{expr_of(value)}") if isinstance(value, Sym) else result

    def _eval_BooleanOperation(self, node: cst.BooleanOperation, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        known = truth(left)
        is_and = isinstance(node.operator, cst.And)
        if known is not None:
            if is_and:
                return self.eval(node.right, frame) if known else left
            return left if known else self.eval(node.right, frame)
        right = self.eval(node.right, frame)
        right_known = truth(right)
        if is_and and right_known is False:
            return False
        if not is_and and right_known is True:
            return right
        return Unknown(f"{_code(node)[:60]}")

    def _eval_Comparison(self, node: cst.Comparison, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        result: Any = True
        for target in node.comparisons:
            right = self.eval(target.comparator, frame)
            op = _CMP_OPS[type(target.operator).__name__]
            outcome = apply_compare(op, left, right)
            known = truth(outcome)
            if known is False:
                return False
            if known is None:
                result = Unknown(_code(node)[:60])
            left = right
        return result

    def _eval_IfExp(self, node: cst.IfExp, frame: Frame) -> Any:
        known = truth(self.eval(node.test, frame))
        if known is True:
            return self.eval(node.body, frame)
        if known is False:
            return self.eval(node.orelse, frame)
        return make_choice([self._safe_eval(node.body, frame), self._safe_eval(node.orelse, frame)])

    def _eval_Subscript(self, node: cst.Subscript, frame: Frame) -> Any:
        container = self.eval(node.value, frame)
        if isinstance(container, Unknown):
            return container
        if isinstance(container, (External, ClassValue, Builtin)):
            return container  # typing generics such as Optional[int]
        if len(node.slice) != 1:
            return Unknown("multi-dimensional subscript")
        element = node.slice[0].slice
        if isinstance(element, cst.Slice):
            parts = [unwrap(self.eval(p, frame)) if p is not None else None for p in (element.lower, element.upper, element.step)]
            try:
                return unwrap(container)[slice(*parts)]
            except Exception:
                return Unknown("slice")
        key = self.eval(element.value, frame)
        if isinstance(container, ConfigObject):
            raw = unwrap(key)
            return container.get(raw) if isinstance(raw, str) and container.has(raw) else Unknown(f"config[{raw!r}]")
        if isinstance(container, LayerList):
            idx = unwrap(key)
            return container.layers[idx] if isinstance(idx, int) and -len(container.layers) <= idx < len(container.layers) else Unknown("layer index")
        if isinstance(key, Unknown):
            return key
        try:
            return unwrap(container)[unwrap(key)]
        except Exception as exc:
            return Unknown(f"{type(exc).__name__} in subscript")

    def _eval_List(self, node: cst.List, frame: Frame) -> Any:
        return self._elements(node.elements, frame)

    def _eval_Tuple(self, node: cst.Tuple, frame: Frame) -> Any:
        items = self._elements(node.elements, frame)
        return tuple(items) if isinstance(items, list) else items

    def _eval_Set(self, node: cst.Set, frame: Frame) -> Any:
        items = self._elements(node.elements, frame)
        try:
            return set(unwrap(i) for i in items) if isinstance(items, list) else items
        except TypeError:
            return Unknown("set")

    def _elements(self, elements, frame: Frame) -> Any:
        items: list[Any] = []
        for element in elements:
            value = self._safe_eval(element.value, frame)
            if isinstance(element, cst.StarredElement):
                inner = unwrap(value)
                if isinstance(inner, LayerList):
                    inner = inner.layers
                if not isinstance(inner, (list, tuple)):
                    return Unknown("starred element")
                items.extend(inner)
            else:
                items.append(value)
        return items

    def _eval_Dict(self, node: cst.Dict, frame: Frame) -> Any:
        result: dict[Any, Any] = {}
        for element in node.elements:
            if isinstance(element, cst.StarredDictElement):
                inner = self._safe_eval(element.value, frame)
                if isinstance(inner, dict):
                    result.update(inner)
                continue
            key = unwrap(self._safe_eval(element.key, frame))
            try:
                result[key] = self._safe_eval(element.value, frame)
            except TypeError:
                return Unknown("dict key")
        return result

    def _comprehension(self, node, frame: Frame, produce: Callable[[Frame], Any]) -> Any:
        results: list[Any] = []

        def run(for_in: cst.CompFor | None, inner: Frame) -> bool:
            if for_in is None:
                results.append(produce(inner))
                return True
            iterable = unwrap(self._safe_eval(for_in.iter, inner))
            if isinstance(iterable, LayerList):
                iterable = iterable.layers
            if isinstance(iterable, dict):
                iterable = list(iterable)
            if not isinstance(iterable, (list, tuple, range, set, frozenset, str)):
                return False
            for count, item in enumerate(iterable):
                if count >= MAX_LOOP:
                    break
                self._assign(for_in.target, item, inner)
                if all(truth(self._safe_eval(cond.test, inner)) is not False for cond in for_in.ifs):
                    if not run(for_in.inner_for_in, inner):
                        return False
            return True

        inner = Frame(module=frame.module, locals=dict(frame.locals), cls=frame.cls, self_obj=frame.self_obj, closure=frame.closure, conditions=frame.conditions)
        return results if run(node.for_in, inner) else Unknown("comprehension over unknown")

    def _eval_ListComp(self, node: cst.ListComp, frame: Frame) -> Any:
        return self._comprehension(node, frame, lambda f: self._safe_eval(node.elt, f))

    def _eval_GeneratorExp(self, node: cst.GeneratorExp, frame: Frame) -> Any:
        return self._comprehension(node, frame, lambda f: self._safe_eval(node.elt, f))

    def _eval_SetComp(self, node: cst.SetComp, frame: Frame) -> Any:
        items = self._comprehension(node, frame, lambda f: unwrap(self._safe_eval(node.elt, f)))
        try:
            return set(items) if isinstance(items, list) else items
        except TypeError:
            return Unknown("set")

    def _eval_DictComp(self, node: cst.DictComp, frame: Frame) -> Any:
        pairs = self._comprehension(node, frame, lambda f: (unwrap(self._safe_eval(node.key, f)), self._safe_eval(node.value, f)))
        try:
            return dict(pairs) if isinstance(pairs, list) else pairs
        except TypeError:
            return Unknown("dict comprehension")

    def _eval_Lambda(self, node: cst.Lambda, frame: Frame) -> Any:
        return LambdaValue(node=node, module=frame.module.name, env=self._closure(frame), frame_class=frame.cls, self_obj=frame.self_obj)

    def _eval_NamedExpr(self, node: cst.NamedExpr, frame: Frame) -> Any:
        value = self.eval(node.value, frame)
        self._assign(node.target, value, frame)
        return value

    def _super_attr(self, proxy: "_SuperProxy", name: str) -> Any:
        frame = proxy.frame
        obj = frame.self_obj
        start = frame.cls
        if proxy.node.args:
            start_value = self.eval(proxy.node.args[0].value, frame)
            start = start_value if isinstance(start_value, ClassValue) else start
            if len(proxy.node.args) > 1:
                obj = self.eval(proxy.node.args[1].value, frame)
        if start is None:
            return Unknown("super() outside a class")
        base_cls = obj.cls if isinstance(obj, Instance) else (obj if isinstance(obj, ClassValue) else start)
        owner, member = self.lookup_class_attr(base_cls, name, start_after=start)
        if member is None or owner is None:
            return Builtin(f"super.{name}", lambda *a, **k: None)  # e.g. nn.Module.__init__
        return self._member_value(owner, member, obj, name)

    # ------------------------------------------------------------------ builtins

    def _make_builtins(self) -> dict[str, Any]:
        b: dict[str, Any] = {}

        def plain(fn, pytype=None, name=None):
            def wrapper(frame, node, *args, **kwargs):
                if any(isinstance(a, (Unknown, Choice)) for a in args):
                    return Unknown(f"{name or fn.__name__}(unknown)")
                raw = [_plain(a) for a in args]
                try:
                    result = fn(*raw, **{k: _plain(v) for k, v in kwargs.items()})
                except Exception as exc:
                    return Unknown(f"{type(exc).__name__} in {name or fn.__name__}")
                syms = [a for a in args if isinstance(a, Sym)]
                if syms and isinstance(result, (int, float, bool)) and not isinstance(result, bool):
                    inner = ", ".join(expr_of(a) or repr(_plain(a)) for a in args)
                    return Sym(result, f"{name or fn.__name__}({inner})")
                return result

            return Builtin(name or fn.__name__, wrapper, pytype)

        for fn, pytype in ((int, int), (float, float), (str, str), (bool, bool), (list, list), (tuple, tuple), (dict, dict), (set, set), (frozenset, frozenset)):
            b[fn.__name__] = plain(fn, pytype)
        b["dict"] = Builtin("dict", lambda frame, node, *a, **k: dict(*[_plain_container(x) for x in a], **k), dict)
        b["list"] = Builtin("list", lambda frame, node, *a: _sequence(list, a), list)
        b["tuple"] = Builtin("tuple", lambda frame, node, *a: _sequence(tuple, a), tuple)
        for fn in (len, abs, round, min, max, sum, sorted, reversed, any, all, divmod, pow, range, enumerate, zip, repr, hash):
            b[fn.__name__] = plain(fn)
        for name in ("ceil", "floor", "sqrt", "log2", "log", "gcd", "prod", "isqrt"):
            b[f"math.{name}"] = plain(getattr(math, name), name=name)
        b["print"] = Builtin("print", lambda *a, **k: None)
        b["getattr"] = Builtin("getattr", self._builtin_getattr)
        b["hasattr"] = Builtin("hasattr", self._builtin_hasattr)
        b["setattr"] = Builtin("setattr", self._builtin_setattr)
        b["isinstance"] = Builtin("isinstance", self._builtin_isinstance)
        b["callable"] = Builtin("callable", lambda frame, node, x: not isinstance(x, (int, float, str, type(None))))
        b["type"] = Builtin("type", lambda frame, node, x, *rest: x.cls if isinstance(x, Instance) else Unknown("type()"))
        b["functools.partial"] = Builtin("partial", lambda frame, node, fn, *a, **k: Partial(fn, list(a), dict(k)))
        b["partial"] = b["functools.partial"]
        b["functools.lru_cache"] = Builtin("lru_cache", lambda frame, node, *a, **k: a[0] if a else Unknown("lru_cache"))
        for name in ("typing.Optional", "typing.Union", "typing.List", "typing.Dict", "typing.Tuple", "typing.Any"):
            b[name] = External(name)
        b["object"] = External("builtins.object")
        for exc in ("ValueError", "NotImplementedError", "RuntimeError", "AssertionError", "TypeError", "KeyError", "Exception"):
            b[exc] = External(f"builtins.{exc}")
        return b

    def _builtin_getattr(self, frame: Frame, node, obj, name, *default):
        raw = unwrap(name)
        if not isinstance(raw, str):
            return Unknown("getattr with unknown name")
        if isinstance(obj, ConfigObject) and not obj.has(raw):
            value = self._config_fallback(obj, raw, frame)
            return default[0] if default and isinstance(value, Unknown) else value
        if isinstance(obj, Instance) and raw not in obj.attrs and default:
            owner, member = self.lookup_class_attr(obj.cls, raw)
            if member is None:
                return default[0]
        if isinstance(obj, ProfileObject) and raw not in obj.attrs and default:
            return default[0]
        value = self.get_attr(obj, raw, frame)
        if isinstance(value, Unknown) and default and not isinstance(obj, (Unknown, Choice)):
            if isinstance(obj, (dict, list, str, int, float)) or obj is None:
                return default[0]
        return value

    def _builtin_hasattr(self, frame: Frame, node, obj, name):
        raw = unwrap(name)
        if isinstance(obj, ConfigObject):
            return obj.has(raw)
        if isinstance(obj, Instance):
            if raw in obj.attrs:
                return True
            owner, member = self.lookup_class_attr(obj.cls, raw)
            return member is not None or Unknown(f"hasattr {raw}")
        if isinstance(obj, ProfileObject):
            return raw in obj.attrs or Unknown(f"hasattr {obj.name}.{raw}")
        if obj is None or isinstance(obj, (int, float, str)):
            return hasattr(unwrap(obj), raw)
        return Unknown(f"hasattr {raw}")

    def _builtin_setattr(self, frame: Frame, node, obj, name, value):
        if isinstance(obj, (Instance, Leaf)) and isinstance(unwrap(name), str):
            obj.attrs[unwrap(name)] = value
        return None

    def _builtin_isinstance(self, frame: Frame, node, obj, classes):
        options = unwrap(classes)
        options = list(options) if isinstance(options, (tuple, list)) else [options]
        results = [self._isinstance_one(obj, c) for c in options]
        if any(r is True for r in results):
            return True
        if all(r is False for r in results):
            return False
        return Unknown("isinstance")

    def _isinstance_one(self, obj: Any, cls: Any) -> bool | None:
        if isinstance(obj, (Unknown, Choice)):
            return None
        raw = unwrap(obj)
        if isinstance(cls, Builtin) and cls.pytype is not None:
            if isinstance(obj, ConfigObject):
                return False
            if cls.pytype is int and isinstance(raw, bool):
                return False
            return isinstance(raw, cls.pytype)
        if isinstance(cls, ClassValue):
            if isinstance(obj, Instance):
                return cls in self.mro(obj.cls) or any(c.name == cls.name for c in self.mro(obj.cls))
            if isinstance(obj, Leaf):
                return obj.class_name == cls.name
            return False
        if isinstance(cls, External):
            short = cls.qualname.rsplit(".", 1)[-1]
            if isinstance(obj, ConfigObject):
                return short.endswith("Config") or None
            if isinstance(obj, (Instance, Leaf, LayerList)):
                return True if short in ("Module",) else None
            if isinstance(raw, (int, float, str, list, dict, tuple)) or raw is None:
                return False
        return None


class _SuperProxy:
    """`super()` inside a method: attribute access continues the MRO after the frame's class."""

    def __init__(self, interp: ModelInterpreter, frame: Frame, node: cst.Call) -> None:
        self.interp, self.frame, self.node = interp, frame, node


# ---------------------------------------------------------------------- helpers

_BIN_OPS = {
    "Add": "+", "Subtract": "-", "Multiply": "*", "Divide": "/", "FloorDivide": "//", "Modulo": "%",
    "Power": "**", "LeftShift": "<<", "RightShift": ">>", "BitAnd": "&", "BitOr": "|", "BitXor": "^",
    "MatrixMultiply": "*",
}
_AUG_OPS = {
    "AddAssign": "+", "SubtractAssign": "-", "MultiplyAssign": "*", "DivideAssign": "/", "FloorDivideAssign": "//",
    "ModuloAssign": "%", "PowerAssign": "**", "BitOrAssign": "|", "BitAndAssign": "&",
}
_CMP_OPS = {
    "Equal": "==", "NotEqual": "!=", "LessThan": "<", "LessThanEqual": "<=", "GreaterThan": ">",
    "GreaterThanEqual": ">=", "In": "in", "NotIn": "not in", "Is": "is", "IsNot": "is not",
}

_TENSOR_FACTORIES = frozenset({"empty", "zeros", "ones", "randn", "rand", "full"})

# torch.nn modules that are kernel boundaries, with their positional parameter names.
_TORCH_LEAVES = {
    "Linear": ("linear.torch", ("input_size", "output_size", "bias")),
    "Embedding": ("embedding", ("num_embeddings", "embedding_dim")),
    "LayerNorm": ("norm.layernorm", ("hidden_size", "eps")),
}
_TORCH_CONTAINERS = frozenset({"ModuleList", "Sequential", "ModuleDict", "Module", "Parameter", "ParameterList", "Identity", "Dropout"})

_CODE_MODULE = cst.Module(body=[])


def _code(node: cst.CSTNode) -> str:
    return " ".join(_CODE_MODULE.code_for_node(node).split())


def _decorator_name(decorator: cst.Decorator) -> str:
    node = decorator.decorator
    if isinstance(node, cst.Call):
        node = node.func
    try:
        return _dotted(node)
    except TypeError:
        return ""


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    raise TypeError("not a dotted name")


def _plain(value: Any) -> Any:
    """Strip provenance (recursively for containers) to call real Python functions."""
    value = unwrap(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _plain_container(value: Any) -> Any:
    return value if isinstance(value, dict) else _plain(value)


def _sequence(kind: type, args: tuple[Any, ...]) -> Any:
    if not args:
        return kind()
    try:
        return kind(_iter_items(args[0]))
    except TypeError:
        return Unknown(f"{kind.__name__}() of an unknown")


def _iter_items(value: Any) -> list[Any]:
    value = unwrap(value)
    if isinstance(value, LayerList):
        return list(value.layers)
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, (list, tuple, range, set, frozenset, str)):
        return list(value)
    raise TypeError("not iterable")


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    return value


def _snapshot(frame: Frame) -> dict[str, Any]:
    state = {"locals": {k: _copy_value(v) for k, v in frame.locals.items()}}
    if isinstance(frame.self_obj, Instance):
        state["attrs"] = {k: _copy_value(v) for k, v in frame.self_obj.attrs.items()}
    return state


def _restore(frame: Frame, state: dict[str, Any]) -> None:
    frame.locals = {k: _copy_value(v) for k, v in state["locals"].items()}
    if "attrs" in state and isinstance(frame.self_obj, Instance):
        frame.self_obj.attrs = {k: _copy_value(v) for k, v in state["attrs"].items()}


def _merge_states(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for section in ("locals", "attrs"):
        if section not in a and section not in b:
            continue
        left, right = a.get(section, {}), b.get(section, {})
        out = {}
        for key in list(left) + [k for k in right if k not in left]:
            if key in left and key in right:
                out[key] = left[key] if left[key] is right[key] else make_choice([left[key], right[key]])
            else:
                out[key] = left[key] if key in left else right[key]
        merged[section] = out
    return merged

