"""Finds a route's steps in the SGLang sources: the definitions and the calls between them.

Classes are resolved the way the model parser resolves them (imports, re-exports, the
MRO for inherited methods), so a step names the method SGLang actually runs, e.g.
`QKVParallelLinear.forward` defined in `ColumnParallelLinear`. Call sites are matched
on the callee's source text. Every location comes from libcst positions of the file
read; a step that is absent from the release is reported with a note, never guessed.
"""

from __future__ import annotations

import re

import libcst as cst

from tools.baseline.routes import BUILT, LAYER, OWNER, Route, Step
from tools.baseline.schema import BaselineRoute, CallSite, EntryPoint
from tools.model_parser.interpreter import ModelInterpreter
from tools.model_parser.inventory import Component, SourceSpan
from tools.model_parser.source_index import ParsedModule, SourceIndex
from tools.model_parser.values import ClassValue, FunctionValue

_MAX_BINDING_TEXT = 120


class EntryPointLocator:
    """Resolves route steps against one SGLang source tree; results are cached per step."""

    def __init__(self, index: SourceIndex, interpreter: ModelInterpreter) -> None:
        self.index = index
        self.interpreter = interpreter
        self.version = index.source.version
        self._cache: dict[tuple, EntryPoint] = {}

    def route(self, route: Route, component: Component) -> BaselineRoute:
        points = [self.step(step, component) for step in route.steps]
        return BaselineRoute(
            name=route.name, kernel=route.kernel, backend=route.backend, entry_points=points, complete=all(p.found for p in points)
        )

    def step(self, step: Step, component: Component) -> EntryPoint:
        name, module = _target(step, component)
        if module is None and step.target == BUILT:
            built = " or ".join(b.class_name for b in component.builds) or "no class the parser resolved"
            return EntryPoint(role=step.role, symbol=name, found=False, note=f"{component.class_name} builds {built}: not one class to follow")
        if module is None:
            return EntryPoint(role=step.role, symbol=name, found=False, note=f"{component.path} has no recorded source location")
        key = (step, name, module)
        if key not in self._cache:
            self._cache[key] = self._locate(step, name, module)
        return self._cache[key]

    def definition(self, module: str, name: str) -> tuple[ParsedModule, cst.CSTNode] | None:
        """The class or function `name` as `module` sees it (following imports), or None."""
        parsed = self.index.module(module)
        if parsed is None:
            return None
        value = self.interpreter.global_lookup(parsed, name)
        if isinstance(value, (ClassValue, FunctionValue)):
            home = self.index.module(value.module)
            return (home, value.node) if home is not None else None
        return None

    def dotted_name(self, step: Step, component: Component) -> str | None:
        """The class or function `step` targets, as a dotted name where it is defined
        (`sglang.srt.layers.layernorm.RMSNorm`); None when it does not resolve."""
        name, module = _target(step, component)
        found = self.definition(module, name) if module is not None else None
        if found is None:
            return None
        home, node = found
        return f"{home.name}.{node.name.value}"

    # ------------------------------------------------------------------ lookup

    def _locate(self, step: Step, name: str, module: str) -> EntryPoint:
        parsed = self.index.module(module)
        if parsed is None:
            return self._missing(step, name, f"module {module} is not in SGLang {self.version}")
        value = self.interpreter.global_lookup(parsed, name)
        if isinstance(value, ClassValue) and step.methods:
            return self._method(step, value)
        if isinstance(value, (ClassValue, FunctionValue)):
            home = self.index.module(value.module)
            assert home is not None
            return self._found(step, name, home, value.node, defined_in=None)
        return self._missing(step, name, f"{name} is neither defined in nor imported by {module} (SGLang {self.version})")

    def _method(self, step: Step, cls: ClassValue) -> EntryPoint:
        points = []
        for method in step.methods:
            owner, node = self.interpreter.lookup_class_attr(cls, method)
            if isinstance(node, cst.FunctionDef) and owner is not None:
                home = self.index.module(owner.module)
                assert home is not None
                inherited = f"{owner.name}.{method}" if owner is not cls else None
                points.append(self._found(step, f"{cls.name}.{method}", home, node, defined_in=inherited))
        if not points:
            return self._missing(step, cls.name, f"{cls.name} has no method {' or '.join(step.methods)} in SGLang {self.version}")
        # The first method (in the route's order) that makes the call; else the first defined.
        return next((p for p in points if p.found), points[0])

    def _found(self, step: Step, symbol: str, parsed: ParsedModule, node: cst.CSTNode, *, defined_in: str | None) -> EntryPoint:
        call = _find_call(parsed, node, step.calls, last=step.last) if step.calls else None
        missing_call = bool(step.calls) and call is None
        return EntryPoint(
            role=step.role,
            symbol=symbol,
            defined_in=defined_in,
            module=parsed.name,
            location=span_of(parsed, node),
            call=call,
            found=not missing_call,
            note=f"no call matching {' or '.join(step.calls)} in {defined_in or symbol} (SGLang {self.version})" if missing_call else None,
        )

    def _missing(self, step: Step, symbol: str, note: str) -> EntryPoint:
        return EntryPoint(role=step.role, symbol=symbol, found=False, note=note)


def _target(step: Step, component: Component) -> tuple[str, str | None]:
    if step.target == BUILT and component.builds:
        if len(component.builds) > 1 or component.builds[0].location is None:
            return component.class_name, None
        built = component.builds[0]
        return built.class_name, module_of_file(built.location.file)
    if step.target == BUILT:  # not a factory: the component's own class
        return _target(Step(step.role, LAYER, methods=step.methods, calls=step.calls), component)
    if step.target in (LAYER, OWNER):
        name = component.class_name if step.target == LAYER else component.owner_class
        return name, module_of_file(component.location.file) if component.location else None
    return step.target, step.module


def module_of_file(relpath: str) -> str:
    """`sglang/srt/models/llama.py` -> `sglang.srt.models.llama`."""
    dotted = relpath.removesuffix(".py").replace("/", ".")
    return dotted.removesuffix(".__init__")


def span_of(parsed: ParsedModule, node: cst.CSTNode) -> SourceSpan | None:
    location = parsed.location(node)
    return SourceSpan(file=location.file, start_line=location.start_line, end_line=location.end_line) if location else None


class _CallCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.calls: list[cst.Call] = []
        self.imports: list[cst.ImportFrom] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.imports.append(node)


def _find_call(parsed: ParsedModule, scope: cst.CSTNode, patterns: tuple[str, ...], *, last: bool) -> CallSite | None:
    collector = _CallCollector()
    scope.visit(collector)
    calls = [(re.sub(r"\s+", "", parsed.tree.code_for_node(call.func)), call) for call in collector.calls]
    for pattern in patterns:
        hits = [(text, call) for text, call in calls if re.fullmatch(pattern, text)]
        if hits:
            text, call = hits[-1] if last else hits[0]
            location = span_of(parsed, call)
            assert location is not None
            return CallSite(callee=text, location=location, resolves_to=_bindings(parsed, collector.imports, text))
    return None


def _bindings(parsed: ParsedModule, local_imports: list[cst.ImportFrom], callee: str) -> list[str]:
    """What the callee's leading name is bound to: local imports first, then the module's."""
    match = re.match(r"[A-Za-z_]\w*", callee)
    if match is None or match.group(0) in ("self", "cls"):
        return []
    head, rest = match.group(0), callee[match.end():]
    if "(" in rest:
        rest = ""
    found: list[str] = []
    for node in local_imports:
        if isinstance(node.names, cst.ImportStar) or node.module is None or node.relative:
            continue
        for alias in node.names:
            local = alias.asname.name.value if alias.asname else parsed.tree.code_for_node(alias.name)
            if local == head:
                found.append(f"{parsed.tree.code_for_node(node.module)}.{parsed.tree.code_for_node(alias.name)}{rest}")
    for binding in parsed.defs.get(head, []):
        if binding.kind == "import":
            found.append(f"{binding.target}{rest}")
        elif binding.kind in ("class", "function"):
            found.append(f"{parsed.name}.{head}{rest}")
        else:
            text = re.sub(r"\s+", " ", parsed.tree.code_for_node(binding.node))
            found.append(f"{head} = {text[:_MAX_BINDING_TEXT]}")
    return list(dict.fromkeys(found))
