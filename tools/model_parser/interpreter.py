"""An abstract interpreter for the `__init__` code of SGLang model classes.

It executes model constructors over libcst trees with a concrete HF config and parallel
profile, so that `self.num_heads = num_heads // attn_tp_size` yields 8 for TP=4, and
records every SGLang layer the model builds (see `layer_catalog`). Where the code asks
something the parser cannot know (a runtime flag, a tensor), the value is `Unknown`;
an `if` on an unknown explores both branches and merges what each assigned into a
`Choice`. Nothing is imported or executed for real: only SGLang source text is read.
"""

from __future__ import annotations

import re
from typing import Any

import libcst as cst

from tools.model_parser import layer_catalog
from tools.model_parser.runtime import (
    CONFIG_DEFAULTS,
    DEVICE_CAPABILITY,
    TRUE_PREDICATES,
    ParallelProfile,
    predicate_default,
    runtime_objects,
)
from tools.model_parser.builtins import BuiltinsMixin
from tools.model_parser.expressions import ExpressionsMixin
from tools.model_parser.frames import (
    MAX_DEPTH,
    MAX_LOOP,
    TENSOR_FACTORIES,
    TORCH_CONTAINERS,
    TORCH_LEAVES,
    BudgetExceeded,
    Builtin,
    Dead,
    Diagnostic,
    Frame,
    ModuleRef,
    Partial,
    Return,
    DEAD,
    code_of,
    decorator_name,
    plain,
)
from tools.model_parser.serving import quant_config_object
from tools.model_parser.source_index import ParsedModule, SourceIndex
from tools.model_parser.statements import StatementsMixin
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
    make_choice,
    unwrap,
)


class ModelInterpreter(StatementsMixin, ExpressionsMixin, BuiltinsMixin):
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
        self.layer_inits: dict[int, tuple[ClassValue, list[Any], dict[str, Any]]] = {}
        """Instances of model-local layer subclasses whose `super().__init__` reached the
        SGLang layer's constructor, with the arguments it was given."""

    # ------------------------------------------------------------------ entry points

    def find_class(self, module: str, name: str) -> ClassValue | None:
        parsed = self.index.module(module)
        if parsed is None:
            return None
        value = self.global_lookup(parsed, name)
        return value if isinstance(value, ClassValue) else None

    def build(self, entry: ClassValue) -> Instance:
        """Instantiate the model's entry class as SGLang's model loader does."""
        # The checkpoint's quantization as SGLang's config class for its method answers
        # (`get_name()`, `isinstance(qc, GGUFConfig)` is False for an fp8 checkpoint).
        quant_config = quant_config_object(self, self.config.data)
        frame = Frame(module=self._module_of(entry), locals={})
        instance = self._instantiate(
            entry, [], {"config": self.config, "quant_config": quant_config, "prefix": ""}, frame, entry.node
        )
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
                params = list(init.params.params) + list(init.params.kwonly_params)
                for param in params:
                    if param.name.value == name and param.default is not None:
                        return self._safe_eval(param.default, Frame(module=self._module_of(schema), locals={}))
                derived = self._config_derived_field(config, schema, init, params, name)
                if derived is not None:
                    return derived
        if name == "rope_parameters":
            return _rope_parameters(config)
        if name == "layer_types" and config.data.get("model_type") in _LAYER_PATTERN_DEFAULTS:
            return _layer_types(config)
        if name in CONFIG_DEFAULTS:
            return CONFIG_DEFAULTS[name]
        return Unknown(f"{config.path}.{name} (not in config)")

    def _config_derived_field(self, config: ConfigObject, schema: ClassValue, init: cst.FunctionDef, params: list[cst.Param], name: str) -> Any:
        """A field the config class's constructor sets from its arguments, such as
        `self.n_routed_experts = self.num_experts = num_experts`: evaluated with the
        arguments config.json gives (or their defaults)."""
        for statement in init.body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if not isinstance(small, cst.Assign) or not any(_is_self_attr(t.target, name) for t in small.targets):
                    continue
                module = self._module_of(schema)
                arguments = {}
                for param in params:
                    key = param.name.value
                    if key == name:
                        continue
                    if config.has(key):
                        arguments[key] = config.get(key)
                    elif param.default is not None:
                        arguments[key] = self._safe_eval(param.default, Frame(module=module, locals={}))
                value = self._safe_eval(small.value, Frame(module=module, locals=arguments))
                return None if isinstance(value, Unknown) else value
        return None

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
            decorators = {decorator_name(d) for d in member.decorators}
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

    def _instantiate(
        self, cls: ClassValue, args: list[Any], kwargs: dict[str, Any], frame: Frame, node: cst.CSTNode
    ) -> Any:
        location = frame.module.location(node)
        conditions = tuple(frame.conditions)
        if cls.name in layer_catalog.LEAF_CLASSES:
            return self._make_leaf(cls.name, layer_catalog.LEAF_CLASSES[cls.name], cls, args, kwargs, frame, location)
        rotary = layer_catalog.rotary_leaf(cls.name, cls.module)
        if rotary is not None:
            return self._make_leaf(cls.name, rotary, cls, args, kwargs, frame, location)
        in_models = cls.module.startswith("sglang.srt.models")
        if cls.name in layer_catalog.SILENT_CLASSES:
            return Unknown(f"{cls.name} (no kernel)")
        if not in_models:
            if self._is_module_class(cls):
                return Leaf(
                    kind="unknown",
                    class_name=cls.name,
                    params=self._bind_leaf(cls, args, kwargs, frame, ()),
                    location=location,
                    conditions=conditions,
                )
            if self._is_dataclass(cls):
                return self._dataclass_instance(cls, args, kwargs, frame, location)
        # Model classes, and plain (non-module) helper classes from anywhere in SGLang,
        # are built by interpreting their __init__.
        torch_base = self._torch_leaf_base(cls)
        if torch_base is not None:
            kind, fallback = TORCH_LEAVES[torch_base]
            return self._make_leaf(cls.name, layer_catalog.LeafSpec(kind, fallback), cls, args, kwargs, frame, location)
        instance = Instance(cls=cls, location=location, conditions=conditions)
        owner, init = self.lookup_class_attr(cls, "__init__")
        if owner is not None and self.is_layer_class(owner):
            return self._layer_subclass_leaf(cls, owner, args, kwargs, frame, location)
        if isinstance(init, cst.FunctionDef) and owner is not None:
            fn = FunctionValue("__init__", owner.module, init, owner=owner, bound_self=instance, kind="method")
            self._call_function(fn, args, kwargs, frame, node, on_raise=self.failures)
        recorded = self.layer_inits.pop(id(instance), None)
        if recorded is not None:
            return self._layer_subclass_leaf(cls, *recorded, frame, location)
        return instance

    def is_layer_class(self, cls: ClassValue) -> bool:
        """An SGLang layer class the parser maps to a kernel (not a model file's look-alike)."""
        return cls.name in layer_catalog.LEAF_CLASSES and not cls.module.startswith("sglang.srt.models")

    def _layer_subclass_leaf(self, cls: ClassValue, base: ClassValue, args, kwargs, frame: Frame, location) -> Leaf:
        """A model-local subclass of an SGLang layer, as a leaf of the layer's kind bound
        with the arguments the layer's constructor got."""
        leaf = self._make_leaf(cls.name, layer_catalog.LEAF_CLASSES[base.name], base, args, kwargs, frame, location)
        leaf.base_class = base.name
        leaf.replaces_forward = self._replaced_forward(cls, base)
        return leaf

    def _replaced_forward(self, cls: ClassValue, base: ClassValue) -> str | None:
        """`file:line` of a forward a subclass between `cls` and `base` defines without
        calling the base's (`super().forward(...)`), else None."""
        for klass in self.mro(cls):
            if klass is base:
                return None
            for stmt in klass.node.body.body:
                if isinstance(stmt, cst.FunctionDef) and stmt.name.value in ("forward", "forward_cuda"):
                    if f"super().{stmt.name.value}(" not in code_of(stmt).replace(" ", ""):
                        where = self._module_of(klass).location(stmt)
                        return f"{where.file}:{where.start_line}" if where else klass.qualname
        return None

    def _torch_leaf_base(self, cls: ClassValue) -> str | None:
        """'Embedding'/'Linear'/'LayerNorm' when a model class subclasses that torch module."""
        for klass in self.mro(cls):
            for base in klass.bases:
                if isinstance(base, External) and base.qualname.startswith(("torch.nn.", "nn.")):
                    short = base.qualname.rsplit(".", 1)[-1]
                    if short in TORCH_LEAVES:
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
        return any(decorator_name(d).split(".")[-1] == "dataclass" for d in cls.node.decorators)

    def _dataclass_instance(self, cls: ClassValue, args, kwargs, frame: Frame, location) -> Instance:
        """A @dataclass instance: its fields bound from the constructor arguments."""
        fields: list[tuple[str, cst.BaseExpression | None]] = []
        for klass in reversed(self.mro(cls)):
            for stmt in klass.node.body.body:
                if isinstance(stmt, cst.SimpleStatementLine):
                    for small in stmt.body:
                        if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                            if "ClassVar" in code_of(small.annotation.annotation):
                                continue
                            fields = [f for f in fields if f[0] != small.target.value] + [
                                (small.target.value, small.value)
                            ]
        instance = Instance(cls=cls, location=location, conditions=tuple(frame.conditions))
        module = self._module_of(cls)
        for i, (name, default) in enumerate(fields):
            if i < len(args):
                instance.attrs[name] = args[i]
            elif name in kwargs:
                instance.attrs[name] = kwargs[name]
            elif default is not None:
                value = self._safe_eval(default, Frame(module=module, locals={}))
                instance.attrs[name] = (
                    Unknown(f"{cls.name}.{name} default")
                    if isinstance(value, Unknown) or "field(" in code_of(default)
                    else value
                )
        return instance

    def _is_module_class(self, cls: ClassValue) -> bool:
        for klass in self.mro(cls):
            for base, arg in zip(klass.bases, [a for a in klass.node.bases if a.keyword is None]):
                name = base.qualname.rsplit(".", 1)[-1] if isinstance(base, External) else getattr(base, "name", "")
                if isinstance(base, Unknown):
                    # A base from outside the sources read (sglang.kernels' BaseFusedOp):
                    # its name as written still says it is a module.
                    name = code_of(arg.value).rsplit(".", 1)[-1]
                if name in layer_catalog.MODULE_BASES:
                    return True
        return False

    def _make_leaf(
        self, name: str, spec: layer_catalog.LeafSpec, source: Any, args, kwargs, frame: Frame, location
    ) -> Leaf:
        params = self._bind_leaf(source, args, kwargs, frame, spec.fallback_params)
        return Leaf(
            kind=spec.kind, class_name=name, params=params, location=location, conditions=tuple(frame.conditions)
        )

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
                bound = self._bind(
                    signature, args, kwargs, Frame(module=module, locals={}), skip_self=skip_self, lenient=True
                )
                bound.update({k: v for k, v in kwargs.items() if k not in bound})
                return bound
            except Dead:
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
                return value(*[plain(a) for a in args], **{k: plain(v) for k, v in kwargs.items()})
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
            spec = layer_catalog.LEAF_FACTORIES[name]
            leaf = self._make_leaf(name, spec, fn, args, kwargs, frame, frame.module.location(node))
            if spec.builds_class:
                leaf.built = _built_modules(self._call_function(fn, args, kwargs, frame, node))
            return leaf
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
        except Dead:
            return Unknown(f"bad arguments to {fn.name}")
        self._depth += 1
        try:
            body = fn.node.body.body if isinstance(fn.node.body, cst.IndentedBlock) else fn.node.body.body
            flow = self.exec_block(body, frame)
        except Dead as dead:
            if on_raise is not None and not caller.conditions:
                on_raise.append(
                    Diagnostic(f"{fn.owner.name if fn.owner else fn.name}.__init__ raises: {dead.what}", dead.where)
                )
            return Unknown(f"{fn.name} raises")
        except BudgetExceeded:
            raise
        except RecursionError:
            return Unknown(f"recursion in {fn.name}")
        finally:
            self._depth -= 1
        results = list(frame.pending_returns)
        if isinstance(flow, Return):
            results.append(flow.value)
        elif flow is DEAD:
            if not results:
                return Unknown(f"{fn.name} raises")
        else:
            results.append(None)
        return make_choice(results)

    def _call_lambda(self, fn: LambdaValue, args, kwargs, caller: Frame) -> Any:
        module = self.index.module(fn.module)
        assert module is not None
        frame = Frame(
            module=module,
            locals={},
            cls=fn.frame_class,
            self_obj=fn.self_obj,
            closure=fn.env,
            conditions=list(caller.conditions),
        )
        try:
            frame.locals = self._bind(fn.node.params, list(args), kwargs, frame)
        except Dead:
            return Unknown("bad arguments to lambda")
        return self.eval(fn.node.body, frame)

    def _bind(
        self,
        params: cst.Parameters,
        args: list[Any],
        kwargs: dict[str, Any],
        frame: Frame,
        *,
        skip_self: bool = False,
        lenient: bool = False,
    ) -> dict[str, Any]:
        names: list[cst.Param] = list(params.posonly_params) + list(params.params)
        if skip_self and names:
            names = names[1:]
        bound: dict[str, Any] = {}
        remaining = dict(kwargs)
        extra_args = list(args[len(names) :])
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
                layers.append(
                    self.call(layer_fn, [], {"idx": Sym(idx, "layer_id"), "prefix": layer_prefix}, frame, node)
                )
        stack = LayerList(layers=layers, location=frame.module.location(node))
        with_range = fn.name == "make_pp_layers" or (
            bound.get("pp_rank") is not None and bound.get("pp_size") is not None
        )
        return (stack, 0, count) if with_range else stack

    def _call_external(self, callee: External, args, kwargs, frame: Frame, node) -> Any:
        name = callee.qualname
        short = name.rsplit(".", 1)[-1]
        if name.startswith(("torch.nn.", "nn.")) and short in TORCH_LEAVES:
            kind, params = TORCH_LEAVES[short]
            bound = dict(zip(params, args))
            bound.update(kwargs)
            return Leaf(
                kind=kind,
                class_name=f"nn.{short}",
                params=bound,
                location=frame.module.location(node),
                conditions=tuple(frame.conditions),
            )
        if name.startswith(("torch.nn.", "nn.")) and short[:1].isupper() and short not in TORCH_CONTAINERS:
            # A torch module the parser has no kernel mapping for: report it, never drop it.
            return Leaf(
                kind="unknown",
                class_name=f"nn.{short}",
                params={},
                location=frame.module.location(node),
                conditions=tuple(frame.conditions),
            )
        if short in ("ModuleList", "Sequential"):
            items = list(args[0]) if args and isinstance(args[0], (list, tuple)) else list(args)
            return LayerList(layers=items, location=frame.module.location(node))
        if short == "ModuleDict":
            return dict(args[0]) if args and isinstance(args[0], dict) else {}
        if short in ("partial",) and args:
            return Partial(args[0], list(args[1:]), dict(kwargs))
        if name.startswith("torch.") and short in TENSOR_FACTORIES:
            dims = args[0] if len(args) == 1 and isinstance(unwrap(args[0]), (tuple, list)) else args
            dtype = kwargs.get("dtype")
            return TensorValue(
                shape=tuple(dims), dtype=dtype.qualname.rsplit(".", 1)[-1] if isinstance(dtype, External) else None
            )
        if short == "Parameter" and args:
            return args[0] if isinstance(args[0], TensorValue) else Unknown("parameter")
        if name == "torch.cuda.is_available":
            return True  # the parser models a CUDA machine
        if name.endswith("cuda.get_device_capability"):
            return DEVICE_CAPABILITY
        guess = predicate_default(short)
        if guess is not None:
            return guess
        return Unknown(f"{name}(...)")


def _is_self_attr(target: cst.BaseExpression, name: str) -> bool:
    return isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self" and target.attr.value == name


def _built_modules(result: Any) -> tuple[Leaf, ...]:
    """The module leaves a factory returned, through factories that delegate to another
    (`get_rope_wrapper` returns what `get_rope` builds)."""
    found: list[Leaf] = []
    for option in result.options if isinstance(result, Choice) else (result,):
        if isinstance(option, Leaf):
            factory = layer_catalog.LEAF_FACTORIES.get(option.class_name)
            found.extend(option.built if factory is not None and factory.builds_class else (option,))
    return tuple(found)


def _rope_parameters(config: ConfigObject) -> dict[str, Any]:
    """`config.rope_parameters` for a config.json written before transformers 5, which
    SGLang 0.5.23 runs under (it pins transformers 5.19): transformers 5 folds the older
    `rope_scaling` (its `type` renamed `rope_type`; `default` when there is none) and
    `rope_theta` into this one dict, which model code such as Llama 4's reads."""
    scaling = config.data.get("rope_scaling")
    parameters = dict(scaling) if isinstance(scaling, dict) else {}
    if "rope_type" not in parameters:
        parameters["rope_type"] = parameters.pop("type", "default")
    parameters.pop("type", None)
    if "rope_theta" in config.data:
        parameters["rope_theta"] = config.data["rope_theta"]
    return parameters


_LAYER_PATTERN_DEFAULTS = {"gemma3_text": 6, "gemma3": 6, "cohere2": 4}
"""Model types whose transformers config derives `layer_types` from `sliding_window_pattern`
(this default when the config has none) when config.json lists no `layer_types`."""


def _layer_types(config: ConfigObject) -> list[Any]:
    """`config.layer_types` as transformers' Gemma3TextConfig / Cohere2Config fill it in:
    every `sliding_window_pattern`-th layer is full attention, the others sliding."""
    pattern = config.data.get("sliding_window_pattern") or _LAYER_PATTERN_DEFAULTS[config.data["model_type"]]
    layers = config.data.get("num_hidden_layers")
    if not isinstance(layers, int) or not isinstance(pattern, int) or pattern < 1:
        return Unknown(f"{config.path}.layer_types (not in config; no layer count or sliding_window_pattern to derive it)")
    expr = f"{config.path}.layer_types (transformers: every {pattern}th layer full attention)"
    return [Sym("sliding_attention" if (i + 1) % pattern else "full_attention", expr) for i in range(layers)]
