"""Execution state of the model interpreter: frames, control-flow signals, branch snapshots.

Also the small syntax helpers every part of the interpreter uses (source text of a node,
dotted names) and the tables that map libcst operator nodes to Python operators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import libcst as cst

from tools.model_parser.source_index import ParsedModule
from tools.model_parser.values import ClassValue, Instance, LayerList, Location, Unknown, make_choice, unwrap

MAX_DEPTH = 48
MAX_STEPS = 400_000
MAX_LOOP = 1024


class Dead(Exception):
    """The current path raises at run time, so it never happens."""

    def __init__(self, where: Location | None = None, what: str = "") -> None:
        super().__init__(what)
        self.where = where
        self.what = what


class BudgetExceeded(Exception):
    pass


@dataclass
class Return:
    value: Any


BREAK = object()
CONTINUE = object()
DEAD = object()


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


BIN_OPS = {
    "Add": "+",
    "Subtract": "-",
    "Multiply": "*",
    "Divide": "/",
    "FloorDivide": "//",
    "Modulo": "%",
    "Power": "**",
    "LeftShift": "<<",
    "RightShift": ">>",
    "BitAnd": "&",
    "BitOr": "|",
    "BitXor": "^",
    "MatrixMultiply": "*",
}
AUG_OPS = {
    "AddAssign": "+",
    "SubtractAssign": "-",
    "MultiplyAssign": "*",
    "DivideAssign": "/",
    "FloorDivideAssign": "//",
    "ModuloAssign": "%",
    "PowerAssign": "**",
    "BitOrAssign": "|",
    "BitAndAssign": "&",
}
CMP_OPS = {
    "Equal": "==",
    "NotEqual": "!=",
    "LessThan": "<",
    "LessThanEqual": "<=",
    "GreaterThan": ">",
    "GreaterThanEqual": ">=",
    "In": "in",
    "NotIn": "not in",
    "Is": "is",
    "IsNot": "is not",
}

TENSOR_FACTORIES = frozenset({"empty", "zeros", "ones", "randn", "rand", "full"})

# torch.nn modules that are kernel boundaries, with their positional parameter names.
TORCH_LEAVES = {
    "Linear": ("linear.torch", ("input_size", "output_size", "bias")),
    "Embedding": ("embedding", ("num_embeddings", "embedding_dim")),
    "LayerNorm": ("norm.layernorm", ("hidden_size", "eps")),
    "GELU": ("activation", ("approximate",)),
    "SiLU": ("activation", ()),
    "ReLU": ("activation", ()),
    "Tanh": ("activation", ()),
    "Sigmoid": ("activation", ()),
}
TORCH_CONTAINERS = frozenset(
    {"ModuleList", "Sequential", "ModuleDict", "Module", "Parameter", "ParameterList", "Identity", "Dropout"}
)

_CODE_MODULE = cst.Module(body=[])


def code_of(node: cst.CSTNode) -> str:
    return " ".join(_CODE_MODULE.code_for_node(node).split())


def decorator_name(decorator: cst.Decorator) -> str:
    node = decorator.decorator
    if isinstance(node, cst.Call):
        node = node.func
    try:
        return dotted_name(node)
    except TypeError:
        return ""


def dotted_name(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{dotted_name(node.value)}.{node.attr.value}"
    raise TypeError("not a dotted name")


def plain(value: Any) -> Any:
    """Strip provenance (recursively for containers) to call real Python functions."""
    value = unwrap(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def plain_container(value: Any) -> Any:
    return value if isinstance(value, dict) else plain(value)


def sequence_of(kind: type, args: tuple[Any, ...]) -> Any:
    if not args:
        return kind()
    try:
        return kind(iter_items(args[0]))
    except TypeError:
        return Unknown(f"{kind.__name__}() of an unknown")


def iter_items(value: Any) -> list[Any]:
    value = unwrap(value)
    if isinstance(value, LayerList):
        return list(value.layers)
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, (list, tuple, range, set, frozenset, str)):
        return list(value)
    raise TypeError("not iterable")


def copy_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_value(v) for v in value]
    return value


def snapshot(frame: Frame) -> dict[str, Any]:
    state = {"locals": {k: copy_value(v) for k, v in frame.locals.items()}}
    if isinstance(frame.self_obj, Instance):
        state["attrs"] = {k: copy_value(v) for k, v in frame.self_obj.attrs.items()}
    return state


def restore(frame: Frame, state: dict[str, Any]) -> None:
    frame.locals = {k: copy_value(v) for k, v in state["locals"].items()}
    if "attrs" in state and isinstance(frame.self_obj, Instance):
        frame.self_obj.attrs = {k: copy_value(v) for k, v in state["attrs"].items()}


def merge_states(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
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
