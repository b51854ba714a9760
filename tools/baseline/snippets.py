"""The SGLang source sections behind one component, quoted for `code_snippets/`.

A snippet holds the component's constructor call, the header of its class (or its
factory), and each step of its baseline routes: short definitions whole, long ones as
the lines around the call that leads on. Every section starts with a comment naming
the file and lines it quotes, read from the SGLang sources at run time.
"""

from __future__ import annotations

import re

import libcst as cst

from tools.baseline.entry_points import EntryPointLocator, module_of_file
from tools.baseline.schema import BaselineRoute
from tools.model_parser.inventory import Component, SourceSpan
from tools.model_parser.source_index import SourceIndex

MAX_WHOLE_DEFINITION = 80
"""Definitions longer than this are quoted around their call site only."""
CALL_CONTEXT = 4
"""Lines quoted before and after a call site in a long definition."""
MAX_CLASS_HEADER = 40


def snippet_filename(component: Component, taken: set[str]) -> str:
    """A file name for the component, unique among `taken` (which it is added to)."""
    stem = re.sub(r"[^A-Za-z0-9_.]+", "_", component.path.replace("*", "N")) + "__" + component.class_name.replace(".", "_")
    name, n = f"{stem}.py", 1
    while name in taken:
        n += 1
        name = f"{stem}_{n}.py"
    taken.add(name)
    return name


def render_snippet(component: Component, routes: list[BaselineRoute], index: SourceIndex, locator: EntryPointLocator, *, model: str) -> str:
    version = index.source.version
    out = [
        f"# {model}: {component.path} ({component.class_name}, {component.kind})",
        f"# Quoted from SGLang {version} by `agent baseline`; each section names the file and lines it quotes.",
    ]
    seen: set[tuple[str, int, int]] = set()

    def section(title: str, span: SourceSpan | None) -> None:
        if span is None or (span.file, span.start_line, span.end_line) in seen:
            return
        seen.add((span.file, span.start_line, span.end_line))
        lines = _lines(index, span)
        if lines is not None:
            out.extend(["", f"# --- {title}: {span}", *lines])

    section(f"constructor call (built by {component.owner_class})", component.location)
    if component.location is not None:
        found = locator.definition(module_of_file(component.location.file), component.class_name)
        if found is not None:
            parsed, node = found
            section(f"definition of {component.class_name}", _header_span(parsed, node))
    for route in routes:
        for point in route.entry_points:
            if point.location is None:
                out.extend(["", f"# --- {route.name}: {point.symbol} not found: {point.note}"])
                continue
            title = f"{route.name}: {point.role}: {point.symbol}" + (f" (defined in {point.defined_in})" if point.defined_in else "")
            quoted = _quoted(point.location, point.call.location if point.call else None)
            if quoted != point.location:
                title += f", {'around the call ' + point.call.callee if point.call else 'its start'} (definition {point.location})"
            if not point.found:
                title += f" [{point.note}]"
            section(title, quoted)
    return "\n".join(out) + "\n"


def _quoted(definition: SourceSpan, call: SourceSpan | None) -> SourceSpan:
    """A short definition whole; of a long one, the lines around its call (or its start)."""
    if definition.end_line - definition.start_line < MAX_WHOLE_DEFINITION:
        return definition
    if call is None:
        return SourceSpan(file=definition.file, start_line=definition.start_line, end_line=definition.start_line + MAX_WHOLE_DEFINITION - 1)
    start = max(definition.start_line, call.start_line - CALL_CONTEXT)
    end = min(definition.end_line, call.end_line + CALL_CONTEXT)
    return SourceSpan(file=definition.file, start_line=start, end_line=end)


def _lines(index: SourceIndex, span: SourceSpan) -> list[str] | None:
    parsed = index.module(module_of_file(span.file))
    if parsed is None:
        return None
    return parsed.source.splitlines()[span.start_line - 1 : span.end_line]


def _header_span(parsed, node: cst.CSTNode) -> SourceSpan | None:
    """A class's lines up to its first method (bases, docstring, attributes); a function whole."""
    location = parsed.location(node)
    if location is None:
        return None
    end = location.end_line
    if isinstance(node, cst.ClassDef):
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef):
                first = parsed.location(stmt)
                if first is not None:
                    end = first.start_line - 1
                break
        end = min(end, location.start_line + MAX_CLASS_HEADER - 1)
    else:
        end = min(end, location.start_line + MAX_WHOLE_DEFINITION - 1)
    return SourceSpan(file=location.file, start_line=location.start_line, end_line=max(end, location.start_line))
