"""How a model class uses a module it builds: its `self.<name>(...)` calls, and where it
hands `self.<name>` to other code.

The interpreter runs `__init__` only, but several kernel choices are made where a module
is used:

- a norm called with a residual (`self.input_layernorm(h, residual)`) runs the fused
  add + norm kernel, one called with the hidden states alone runs the plain norm (OLMo 2's
  post-norms never get a residual);
- SGLang 0.5.23's layer boundaries take the norm instead of calling it
  (`append_stages((attn, self.input_layernorm), ...)`, `residual_batch.final_norm(h, fb,
  self.norm)`): they add the residual and normalise in one kernel;
- keywords decide variants: `self.attn(q, k, v, fb, sinks=self.sinks)` (attention sinks,
  gpt-oss), `self.rotary_emb(..., fused_set_kv_buffer_arg=...)` or `**extra_args` built from
  a dict with that key (RoPE fused with the KV-cache write).

A module handed to a helper defined in SGLang's sources (`apply_qk_norm(q, k, self.q_norm,
...)`, a method such as DeepSeek's `self._build_stages(self.input_layernorm, ...)`) is
followed into the helper, where its parameter is used the same ways. The calls are read as
text from the owner class's methods and its SGLang base classes (with Python's `ast`: a
libcst walk over every owner class costs seconds per model).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable

from tools.model_parser.source_index import SourceIndex
from tools.model_parser.values import ClassValue

RESIDUAL_STREAM_HELPERS = frozenset({"append_stages", "final_norm"})
"""SGLang's layer-boundary functions that take a norm and run it themselves (with the
residual add); they are where the reading stops."""

_PASS_THROUGH = frozenset({"list", "tuple", "zip"})
_INSPECTIONS = frozenset({"getattr", "hasattr", "isinstance", "type", "id", "repr", "print"})
"""Builtins that look at a module without running it."""
_LIST_GROWERS = frozenset({"append", "extend", "insert"})
_MAX_DEPTH = 3

Target = Callable[[ast.AST], bool]


@dataclass
class ModuleUsage:
    """Every use of `self.<name>` in one owner class (and its SGLang bases)."""

    calls: set[tuple[int, tuple[str, ...]]] = field(default_factory=set)
    """Each direct call as (positional argument count, -1 for `*args`; its keyword
    arguments, with the keys of `**d` when `d` is a dict built in the same function,
    e.g. `{"fused_set_kv_buffer_arg": ...}`)."""
    handed_to: set[str] = field(default_factory=set)
    """Functions that receive the module and were not followed: SGLang's residual-stream
    helpers (`append_stages`), or code whose source is not at hand."""
    methods: set[str] = field(default_factory=set)
    """Methods called on it (`self.q_norm.forward_native(q)`: the PyTorch path)."""
    attributes: set[str] = field(default_factory=set)
    """Attributes read off it (`self.gate.weight`: a weight the owner uses itself)."""
    keyword_attributes: dict[str, set[str]] = field(default_factory=dict)
    """For keywords passed as an attribute of the owner (`sinks=self.attention_sink_bias`),
    those attributes: the walker drops a keyword the owner's instance holds None for."""


class CallSiteReader:
    """Reads call sites in one SGLang source tree; each module is parsed once."""

    def __init__(self, index: SourceIndex) -> None:
        self.index = index
        self._trees: dict[str, ast.Module | None] = {}
        self._found: dict[tuple[str, str, str], ModuleUsage] = {}

    def usage(self, owner: ClassValue, attribute: str) -> ModuleUsage:
        """How `owner`'s class body (its methods, its SGLang base classes' too) uses
        `self.<attribute>`."""
        key = (owner.module, owner.name, attribute)
        if key not in self._found:
            usage = ModuleUsage()
            classes = [(cls, node) for cls in _with_bases(owner) for node in self._class_defs(cls.module, cls.name)]
            target = _self_attribute(attribute)
            for cls, node in classes:
                for function in _functions(node):
                    self._read(function, target, usage, cls.module, classes, 0)
            self._found[key] = usage
        return self._found[key]

    # ------------------------------------------------------------------ reading

    def _read(self, function: ast.AST, target: Target, usage: ModuleUsage, module: str, classes, depth: int) -> None:
        dict_keys = _dict_literal_keys(function)
        flows = _names_reaching_calls(function)
        for node in ast.walk(function):
            if isinstance(node, ast.Attribute) and target(node.value):
                usage.attributes.add(node.attr)
            if not isinstance(node, ast.Call):
                continue
            if target(node.func):
                usage.calls.add(_call_shape(node, dict_keys))
                for keyword in node.keywords:
                    value = keyword.value
                    if keyword.arg and isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "self":
                        usage.keyword_attributes.setdefault(keyword.arg, set()).add(value.attr)
                continue
            if isinstance(node.func, ast.Attribute) and target(node.func.value):
                usage.methods.add(node.func.attr)
                continue
            if isinstance(node.func, ast.Name) and node.func.id in _INSPECTIONS:
                continue
            held = [(i, arg) for i, arg in enumerate(node.args) if _holds(arg, target)]
            held += [(k.arg, k.value) for k in node.keywords if k.arg is not None and _holds(k.value, target)]
            if not held:
                continue
            grower = isinstance(node.func, ast.Attribute) and node.func.attr in _LIST_GROWERS and isinstance(node.func.value, ast.Name)
            if grower:
                usage.handed_to.update(flows.get(node.func.value.id, ()))
                continue
            for position, arg in held:
                self._hand_to(node, position, arg, usage, module, classes, depth)
        for assign in (n for n in ast.walk(function) if isinstance(n, ast.Assign)):
            targets = {t.id for t in assign.targets if isinstance(t, ast.Name)}
            if targets & flows.keys() and _holds(assign.value, target):
                for name in targets & flows.keys():
                    usage.handed_to.update(flows[name])

    def _hand_to(self, call: ast.Call, position: int | str, arg: ast.AST, usage: ModuleUsage, module: str, classes, depth: int) -> None:
        callee = _callee_name(call)
        if callee.rsplit(".", 1)[-1] in RESIDUAL_STREAM_HELPERS or isinstance(arg, (ast.Tuple, ast.List)) or depth >= _MAX_DEPTH:
            usage.handed_to.add(callee)
            return
        found = self._function(callee, module, classes)
        if found is None:
            usage.handed_to.add(callee)
            return
        function, function_module, is_method = found
        params = [a.arg for a in function.args.posonlyargs + function.args.args]
        if is_method:
            params = params[1:]
        if isinstance(position, int):
            name = params[position] if position < len(params) else None
        else:
            name = position if position in params or position in {a.arg for a in function.args.kwonlyargs} else None
        if name is None:
            usage.handed_to.add(callee)
            return
        self._read(function, _parameter(name), usage, function_module, classes, depth + 1)

    def _function(self, callee: str, module: str, classes) -> tuple[ast.FunctionDef, str, bool] | None:
        """The definition `callee` names from `module`: a method of the owner's classes
        (`self.m`), or a module-level function of the SGLang sources (`f`, `mod.f`)."""
        parts = callee.split(".")
        if parts[0] == "self" and len(parts) == 2:
            for cls, node in classes:
                for function in node.body:
                    if isinstance(function, ast.FunctionDef) and function.name == parts[1]:
                        return function, cls.module, True
            return None
        if len(parts) > 2:
            return None
        parsed = self.index.module(module)
        binding = parsed.lookup(parts[0]) if parsed else None
        if binding is None:
            return None
        if len(parts) == 1:
            if binding.kind == "function":
                return self._module_function(module, parts[0])
            if binding.kind == "import" and binding.target and binding.target.startswith("sglang"):
                owner, _, name = binding.target.rpartition(".")
                return self._module_function(owner, name)
            return None
        if binding.kind == "import" and binding.target and self.index.module(binding.target) is not None:
            return self._module_function(binding.target, parts[1])
        return None

    def _module_function(self, module: str, name: str) -> tuple[ast.FunctionDef, str, bool] | None:
        tree = self._tree(module)
        for node in tree.body if tree else []:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node, module, False
        return None

    def _tree(self, module: str) -> ast.Module | None:
        if module not in self._trees:
            parsed = self.index.module(module)
            self._trees[module] = ast.parse(parsed.source) if parsed is not None else None
        return self._trees[module]

    def _class_defs(self, module: str, name: str) -> list[ast.ClassDef]:
        tree = self._tree(module)
        return [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == name] if tree else []


def _with_bases(owner: ClassValue) -> list[ClassValue]:
    ordered: list[ClassValue] = []
    stack = [owner]
    while stack:
        cls = stack.pop()
        if any(seen is cls for seen in ordered):
            continue
        ordered.append(cls)
        stack.extend(base for base in cls.bases if isinstance(base, ClassValue))
    return ordered


def _functions(node: ast.ClassDef) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _self_attribute(attribute: str) -> Target:
    return lambda node: isinstance(node, ast.Attribute) and node.attr == attribute and isinstance(node.value, ast.Name) and node.value.id == "self"


def _parameter(name: str) -> Target:
    return lambda node: isinstance(node, ast.Name) and node.id == name


def _callee_name(call: ast.Call) -> str:
    """`append_stages`, `residual_batch.final_norm`, `self._build_stages`."""
    return ast.unparse(call.func)


def _call_shape(call: ast.Call, dict_keys: dict[str, set[str]]) -> tuple[int, tuple[str, ...]]:
    keywords: set[str] = set()
    for keyword in call.keywords:
        if keyword.arg is not None:
            keywords.add(keyword.arg)
        elif isinstance(keyword.value, ast.Name):
            keywords.update(dict_keys.get(keyword.value.id, ()))
        elif isinstance(keyword.value, ast.Dict):
            keywords.update(k.value for k in keyword.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
    starred = any(isinstance(a, ast.Starred) for a in call.args)
    return (-1 if starred else len(call.args), tuple(sorted(keywords)))


def _holds(node: ast.AST, target: Target) -> bool:
    """True when evaluating `node` gives the module itself or a container holding it:
    `self.norm`, `(decl, self.norm)`, `list(zip(facts, norms))`; not the result of calling
    it (`self.norm(x)`) or of any other call (`f(self.norm)` is followed on its own)."""
    if target(node):
        return True
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in _PASS_THROUGH:
            return any(_holds(a, target) for a in node.args)
        return False
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_holds(e, target) for e in node.elts)
    if isinstance(node, ast.Starred):
        return _holds(node.value, target)
    if isinstance(node, ast.IfExp):
        return _holds(node.body, target) or _holds(node.orelse, target)
    return False


def _dict_literal_keys(function: ast.AST) -> dict[str, set[str]]:
    """Local names bound to dicts in `function`, with the string keys they may hold:
    `d = {"k": ...}`, `d = dict(k=...)`, `d["k"] = ...`."""
    keys: dict[str, set[str]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found = _literal_keys(node.value)
                    if found is not None:
                        keys.setdefault(target.id, set()).update(found)
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    key = target.slice
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        keys.setdefault(target.value.id, set()).add(key.value)
    return keys


def _literal_keys(value: ast.AST) -> set[str] | None:
    if isinstance(value, ast.Dict):
        return {k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict":
        return {k.arg for k in value.keywords if k.arg is not None}
    return None


def _names_reaching_calls(function: ast.AST) -> dict[str, set[str]]:
    """Local names that reach a call's arguments as values, with the callees they reach:
    `stages = list(zip(facts, norms))` then `append_stages(*stages)` gives both `stages`
    and `norms` -> {"append_stages"}."""
    reaching: dict[str, set[str]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _PASS_THROUGH):
            callee = _callee_name(node)
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                for name in _held_names(arg):
                    reaching.setdefault(name, set()).add(callee)
    assigns = [n for n in ast.walk(function) if isinstance(n, ast.Assign)]
    changed = True
    while changed:
        changed = False
        for assign in assigns:
            targets = [t.id for t in assign.targets if isinstance(t, ast.Name)]
            callees = set().union(*(reaching.get(t, set()) for t in targets)) if targets else set()
            for name in _held_names(assign.value) if callees else ():
                before = len(reaching.get(name, ()))
                reaching.setdefault(name, set()).update(callees)
                changed |= len(reaching[name]) != before
    return reaching


def _held_names(node: ast.AST) -> set[str]:
    """Local names whose values `node` passes on as they are (see `_holds`)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in _PASS_THROUGH:
            return set().union(*(_held_names(a) for a in node.args)) if node.args else set()
        return set()
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_held_names(e) for e in node.elts)) if node.elts else set()
    if isinstance(node, ast.Starred):
        return _held_names(node.value)
    return set()
