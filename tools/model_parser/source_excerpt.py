"""The SGLang source of a component, for a reader (or an LLM) who must say what it computes.

`source_excerpt(index, location, class_name)` returns the lines where the component is
constructed and the source of its class, found by following the constructing module's
imports. A long class is cut down to its header and the methods that define the
computation (`__init__`, `forward*`), within a line budget; what was left out is said.
Lines keep their numbers, so the excerpt can be cited as `file:line`.
"""

from __future__ import annotations

import re

import libcst as cst
from pydantic import BaseModel

from tools.model_parser.source_index import ParsedModule, SourceIndex

_LOCATION = re.compile(r"^(?P<file>.+?):(?P<start>\d+)(?:-(?P<end>\d+))?$")

# Methods that define what a module computes, most telling first: the forward pass says
# what is computed, `__init__` which sizes and options it is computed with.
_METHOD_PRIORITY = ("forward", "forward_native", "forward_cuda", "_forward", "forward_impl", "__init__")

# A method that does not fit whole is cut, if at least this many of its lines fit.
_MIN_PARTIAL_LINES = 20


class SourceExcerpt(BaseModel):
    """Numbered SGLang source lines about one component."""

    construction: str
    """The lines that construct the component, with a little context."""
    construction_at: str
    """`file:start-end` of the construction."""
    class_source: str | None = None
    """The component's class (possibly cut down); None when it is not in SGLang's sources."""
    class_at: str | None = None
    """`file:start-end` of the class definition."""
    omitted: list[str] = []
    """Members of the class left out to stay within the line budget."""

    def render(self) -> str:
        parts = [f"# constructed at {self.construction_at}", self.construction]
        if self.class_source is None:
            parts.append("# the class is not defined in SGLang's sources (a torch or third-party module)")
        else:
            parts += [f"# class defined at {self.class_at}", self.class_source]
            if self.omitted:
                parts.append("# omitted members: " + ", ".join(self.omitted))
        return "\n".join(parts)


def source_excerpt(index: SourceIndex, location: str, class_name: str, *, max_class_lines: int = 300, context: int = 2) -> SourceExcerpt:
    """The construction site at `location` (`file:start-end`) and the source of `class_name`."""
    match = _LOCATION.match(location)
    if match is None:
        raise ValueError(f"not a source location: {location!r}")
    file, start = match["file"], int(match["start"])
    end = int(match["end"] or start)
    module = index.module_for_file(index.source.root / file)
    lines = module.source.splitlines()
    construction = _numbered(lines, max(1, start - context), min(len(lines), end + context))
    excerpt = SourceExcerpt(construction=construction, construction_at=f"{file}:{start}-{end}")
    found = find_class(index, module, class_name)
    if found is None:
        return excerpt
    class_module, node = found
    span = class_module.location(node)
    assert span is not None
    text, omitted = _class_text(class_module, node, max_class_lines)
    return excerpt.model_copy(update={"class_source": text, "class_at": f"{span.file}:{span.start_line}-{span.end_line}", "omitted": omitted})


def find_class(index: SourceIndex, module: ParsedModule, name: str, depth: int = 0) -> tuple[ParsedModule, cst.ClassDef] | None:
    """The class `name` as `module` sees it, following imports; None outside SGLang."""
    if depth > 6:
        return None
    binding = module.lookup(name)
    if binding is None:
        star = index.star_source(module, name)
        target = index.module(star) if star else None
        return find_class(index, target, name, depth + 1) if target else None
    if binding.kind == "class" and isinstance(binding.node, cst.ClassDef):
        return module, binding.node
    if binding.kind == "import" and binding.target and binding.target.startswith("sglang"):
        owner, _, imported = binding.target.rpartition(".")
        target = index.module(owner)
        return find_class(index, target, imported, depth + 1) if target else None
    return None


def _class_text(module: ParsedModule, node: cst.ClassDef, budget: int) -> tuple[str, list[str]]:
    lines = module.source.splitlines()
    span = module.location(node)
    assert span is not None
    if span.end_line - span.start_line + 1 <= budget:
        return _numbered(lines, span.start_line, span.end_line), []
    methods = [(stmt.name.value, module.location(stmt)) for stmt in node.body.body if isinstance(stmt, cst.FunctionDef)]
    first_member = min((loc.start_line for _, loc in methods if loc), default=span.end_line + 1)
    chosen = [(span.start_line, min(first_member - 1, span.start_line + 30))]
    used = chosen[0][1] - chosen[0][0] + 1
    ranked = sorted(methods, key=lambda m: _METHOD_PRIORITY.index(m[0]) if m[0] in _METHOD_PRIORITY else len(_METHOD_PRIORITY))
    omitted = []
    for name, loc in ranked:
        left = budget - used
        if loc is None or name not in _METHOD_PRIORITY or left < _MIN_PARTIAL_LINES:
            omitted.append(name)
            continue
        last = min(loc.end_line, loc.start_line + left - 1)
        if last < loc.end_line:
            omitted.append(f"{name} (lines {last + 1}-{loc.end_line})")
        chosen.append((loc.start_line, last))
        used += last - loc.start_line + 1
    pieces = [_numbered(lines, first, last) for first, last in sorted(chosen)]
    return "\n    ...\n".join(pieces), omitted


def _numbered(lines: list[str], first: int, last: int) -> str:
    return "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(first, last + 1))
