"""The values the model-source interpreter computes with.

Plain Python values (int, str, list, dict, ...) stand for themselves. The classes here
add what abstract interpretation needs:

- `Sym` is a scalar that remembers the config expression it came from
  (`config.num_attention_heads // tp_size`), so the inventory can show both.
- `Unknown` is a value the interpreter cannot compute (a runtime flag, a tensor).
- `Choice` holds the alternatives when a branch on an unknown condition assigned
  different values on each side.
- `ConfigObject` is the HF config, read attribute by attribute.
- `ClassValue`, `FunctionValue`, `LambdaValue` are SGLang definitions to interpret.
- `Instance` is an interpreted SGLang module; `Leaf` is a known SGLang layer (a kernel
  boundary) with its bound constructor arguments; `LayerList` is a decoder-layer stack.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import libcst as cst

# ---------------------------------------------------------------------------
# Scalars with provenance, unknowns and alternatives
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sym:
    """A concrete scalar and the expression (over config fields and profile) it came from."""

    value: Any
    expr: str

    def __repr__(self) -> str:
        return f"Sym({self.value!r} = {self.expr})"


@dataclass(frozen=True)
class EnumMember:
    """A member of an Enum class from SGLang's sources."""

    enum: str
    name: str
    value: Any
    mixin: bool
    """True for IntEnum / str-mixin enums, whose members compare equal to their values."""

    def __repr__(self) -> str:
        return f"{self.enum}.{self.name}"


@dataclass(frozen=True)
class Unknown:
    """A value the interpreter cannot compute; `reason` names what it came from."""

    reason: str

    def __repr__(self) -> str:
        return f"Unknown({self.reason})"


@dataclass(frozen=True)
class Choice:
    """Alternatives produced by a branch on an unknown condition."""

    options: tuple[Any, ...]

    def __repr__(self) -> str:
        return "Choice(" + " | ".join(repr(o) for o in self.options) + ")"


MAX_CHOICES = 6


def unwrap(value: Any) -> Any:
    """The concrete Python value of `value` (Sym stripped, containers untouched)."""
    if isinstance(value, Sym):
        return value.value
    if isinstance(value, EnumMember) and value.mixin:
        return unwrap(value.value)
    return value


def expr_of(value: Any) -> str | None:
    """The config expression of a value, when it has one."""
    if isinstance(value, Sym):
        return value.expr
    if isinstance(value, Unknown):
        return None
    if isinstance(value, (int, float, str, bool)) or value is None:
        return repr(value)
    return None


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def make_choice(options: list[Any]) -> Any:
    """Collapse equal alternatives; too many alternatives become Unknown."""
    flat: list[Any] = []
    for option in options:
        for inner in option.options if isinstance(option, Choice) else (option,):
            if not any(_same(inner, seen) for seen in flat):
                flat.append(inner)
    if len(flat) == 1:
        return flat[0]
    if len(flat) > MAX_CHOICES:
        return Unknown("too many alternatives")
    return Choice(tuple(flat))


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    plain = (int, float, str, bool, type(None), Sym, Unknown)
    if isinstance(a, plain) and isinstance(b, plain):
        try:
            return type(a) is type(b) and a == b
        except Exception:
            return False
    return False


# ---------------------------------------------------------------------------
# Arithmetic and comparison that carry provenance
# ---------------------------------------------------------------------------

BINARY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "<<": operator.lshift,
    ">>": operator.rshift,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
}

COMPARE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
    "is": lambda a, b: a is b,
    "is not": lambda a, b: a is not b,
}


def _paren(expr: str) -> str:
    simple = expr.replace("_", "").replace(".", "").replace("'", "").replace('"', "")
    return expr if simple.isalnum() or (expr.startswith("(") and expr.endswith(")")) else f"({expr})"


def apply_binary(op: str, left: Any, right: Any) -> Any:
    """`left op right` for concrete, symbolic, unknown and alternative operands."""
    if isinstance(left, Choice) or isinstance(right, Choice):
        lefts = left.options if isinstance(left, Choice) else (left,)
        rights = right.options if isinstance(right, Choice) else (right,)
        return make_choice([apply_binary(op, a, b) for a in lefts for b in rights])
    if isinstance(left, Unknown):
        return left
    if isinstance(right, Unknown):
        return right
    fn = BINARY_OPS[op]
    a, b = unwrap(left), unwrap(right)
    if isinstance(a, (Leaf, Instance, ClassValue, FunctionValue)) or isinstance(b, (Leaf, Instance, ClassValue, FunctionValue)):
        return Unknown(f"{op} on a module")
    try:
        result = fn(a, b)
    except Exception as exc:  # e.g. None + int in a branch that is never taken at run time
        return Unknown(f"{type(exc).__name__} in {op}")
    if isinstance(left, Sym) or isinstance(right, Sym):
        if isinstance(result, (int, float, bool, str)):
            return Sym(result, f"{_paren(expr_of(left) or repr(a))} {op} {_paren(expr_of(right) or repr(b))}")
    return result


def apply_compare(op: str, left: Any, right: Any) -> Any:
    if isinstance(left, Choice) or isinstance(right, Choice):
        lefts = left.options if isinstance(left, Choice) else (left,)
        rights = right.options if isinstance(right, Choice) else (right,)
        return make_choice([apply_compare(op, a, b) for a in lefts for b in rights])
    if op in ("is", "is not"):
        a, b = unwrap(left), unwrap(right)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return Unknown(f"'{op}' on an unknown")
        same = a is b or (a is None and b is None)
        return same if op == "is" else not same
    if isinstance(left, Unknown):
        return left
    if isinstance(right, Unknown):
        return right
    if op in ("==", "!=") and (isinstance(left, EnumMember) or isinstance(right, EnumMember)):
        if isinstance(left, EnumMember) and isinstance(right, EnumMember):
            same = (left.enum, left.name) == (right.enum, right.name)
        else:
            member, other = (left, right) if isinstance(left, EnumMember) else (right, left)
            same = member.mixin and unwrap(member.value) == unwrap(other)
        return same if op == "==" else not same
    a, b = unwrap(left), unwrap(right)
    if op in ("in", "not in") and isinstance(b, (list, tuple, set, frozenset, dict)):
        members = [unwrap(m) for m in b]
        if any(isinstance(m, Unknown) for m in members):
            return Unknown(f"'{op}' on a container with unknowns")
        b = members
    try:
        return COMPARE_OPS[op](a, b)
    except Exception as exc:
        return Unknown(f"{type(exc).__name__} in {op}")


def truth(value: Any) -> bool | None:
    """Truthiness of a value; None when it cannot be known."""
    if isinstance(value, Unknown):
        return None
    if isinstance(value, Choice):
        truths = {truth(o) for o in value.options}
        return truths.pop() if len(truths) == 1 else None
    value = unwrap(value)
    if isinstance(value, (Instance, Leaf, LayerList, ClassValue, FunctionValue, LambdaValue, ConfigObject, External, TensorValue)):
        return True
    try:
        return bool(value)
    except Exception:
        return None


# ---------------------------------------------------------------------------
# The HF config
# ---------------------------------------------------------------------------


class ConfigObject:
    """An HF config, read attribute by attribute; nested sub-configs stay objects."""

    # Keys whose dict values transformers turns into config objects.
    SUBCONFIG_KEYS = ("text_config", "language_config", "llm_config", "thinker_config", "talker_config")

    def __init__(self, data: dict[str, Any], path: str = "config", schema: Any = None) -> None:
        self.data = data
        self.path = path
        self.schema = schema
        """SGLang's own config class for this model type, if it has one (a ClassValue):
        its properties and constructor defaults answer fields config.json lacks."""

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str) -> Any:
        """The field as an interpreter value (scalars carry their expression)."""
        value = self.data[name]
        expr = f"{self.path}.{name}"
        if isinstance(value, dict) and (self.is_record or name in self.SUBCONFIG_KEYS or name.endswith("_config") and "model_type" in value):
            return ConfigObject(value, expr)
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            # A per-layer table such as DeciLM's `block_configs`: its remote config code
            # turns each entry into an object read by attribute
            # (`config.block_configs[i].attention.n_heads_in_group`).
            return [ConfigObject(item, f"{expr}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, (int, float, str, bool)):
            return Sym(value, expr)
        return value

    @property
    def is_record(self) -> bool:
        """An entry of a per-layer table: its nested dicts are objects too (`.attention.no_op`)."""
        return self.path.endswith("]")

    def __repr__(self) -> str:
        return f"ConfigObject({self.path})"


# ---------------------------------------------------------------------------
# Definitions from SGLang's sources
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class ClassValue:
    """A class defined in an SGLang source file."""

    name: str
    module: str
    node: cst.ClassDef
    bases: list[Any] = field(default_factory=list)

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return f"<class {self.qualname}>"


@dataclass(eq=False)
class FunctionValue:
    """A function or method defined in an SGLang source file."""

    name: str
    module: str
    node: cst.FunctionDef
    owner: ClassValue | None = None
    bound_self: Any = None
    closure: dict[str, Any] | None = None
    kind: str = "function"  # function | method | staticmethod | classmethod | property

    def __repr__(self) -> str:
        owner = f"{self.owner.name}." if self.owner else ""
        return f"<function {self.module}.{owner}{self.name}>"


@dataclass(eq=False)
class LambdaValue:
    node: cst.Lambda
    module: str
    env: dict[str, Any]
    frame_class: ClassValue | None = None
    self_obj: Any = None


@dataclass(eq=False)
class External:
    """Something from outside SGLang (torch, transformers, typing) known only by name."""

    qualname: str

    def __repr__(self) -> str:
        return f"<external {self.qualname}>"


@dataclass
class Location:
    """A span in an SGLang source file."""

    file: str
    start_line: int
    end_line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.start_line}"


# ---------------------------------------------------------------------------
# Interpreted modules
# ---------------------------------------------------------------------------


@dataclass(eq=False)
class Instance:
    """An SGLang nn.Module built by interpreting its `__init__`."""

    cls: ClassValue
    attrs: dict[str, Any] = field(default_factory=dict)
    location: Location | None = None
    conditions: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<{self.cls.name} instance>"


@dataclass(eq=False)
class Leaf:
    """A known SGLang layer: where the model hands off to a kernel."""

    kind: str
    class_name: str
    params: dict[str, Any]
    location: Location | None
    conditions: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    built: tuple[Leaf, ...] = ()
    """For a factory leaf: the module(s) its body builds for these arguments, each a leaf
    of the class built with that class's constructor arguments (several when an unresolved
    switch decides)."""
    base_class: str | None = None
    """For a model-local subclass of a layer class: the layer class it extends."""
    replaces_forward: str | None = None
    """`file:line` of a forward such a subclass defines without calling the layer's own."""

    def __repr__(self) -> str:
        return f"<leaf {self.kind} {self.class_name}>"


@dataclass(eq=False)
class LayerList:
    """A decoder-layer stack built by a layer factory (make_layers, nn.ModuleList)."""

    layers: list[Any]
    location: Location | None = None

    def __repr__(self) -> str:
        return f"<LayerList of {len(self.layers)}>"


@dataclass(eq=False)
class TensorValue:
    """A tensor created in `__init__` (`nn.Parameter(torch.empty(n, k))`): only its shape matters."""

    shape: tuple[Any, ...]
    dtype: str | None = None

    def __repr__(self) -> str:
        return f"<tensor {tuple(unwrap(s) for s in self.shape)}>"


@dataclass(eq=False)
class BoundLeafClass:
    """A known layer class or factory waiting to be called (e.g. `get_moe_impl_class(q)`)."""

    kind: str
    class_name: str
    param_names: tuple[str, ...]

    def __repr__(self) -> str:
        return f"<layer class {self.class_name}>"
