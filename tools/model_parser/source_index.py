"""Loads SGLang modules as libcst trees, on demand, and answers "where is this node".

Nothing here imports SGLang: files are read as text and parsed with libcst. A module's
top-level names (classes, functions, assignments, imports) are indexed once so the
interpreter can resolve `from sglang.srt.models.llama import LlamaMLP` lazily.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import ByteSpanPositionProvider, MetadataWrapper

from tools.errors import SourceParseError
from tools.model_parser.parse_cache import ParseCache
from tools.model_parser.values import Location
from tools.source_locator import SglangSource


@dataclass
class TopLevelDef:
    """One top-level binding of a name: a def/class node, or an assigned expression."""

    node: cst.CSTNode
    kind: str  # class | function | assign | import
    conditional: bool
    target: str | None = None  # for imports: the qualified name imported


@dataclass
class ParsedModule:
    name: str
    path: Path
    relpath: str
    source: str
    tree: cst.Module
    defs: dict[str, list[TopLevelDef]] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    _spans: dict[cst.CSTNode, object] | None = None
    _line_starts: list[int] | None = None

    def lookup(self, name: str) -> TopLevelDef | None:
        """The binding the interpreter should use: the last unconditional one, else the first."""
        bindings = self.defs.get(name)
        if not bindings:
            return None
        unconditional = [b for b in bindings if not b.conditional]
        return unconditional[-1] if unconditional else bindings[0]

    def location(self, node: cst.CSTNode) -> Location | None:
        if self._spans is None:
            self._spans = byte_spans(self.tree)
        if self._line_starts is None:
            encoded = self.source.encode("utf-8")
            self._line_starts = [0] + [i + 1 for i, b in enumerate(encoded) if b == 0x0A]
        span = self._spans.get(node)
        if span is None:
            return None
        assert self._line_starts is not None
        start = bisect.bisect_right(self._line_starts, span.start)
        end = bisect.bisect_right(self._line_starts, max(span.start, span.start + span.length - 1))
        return Location(file=self.relpath, start_line=start, end_line=end)


def byte_spans(tree: cst.Module) -> dict[cst.CSTNode, object]:
    return dict(MetadataWrapper(tree, unsafe_skip_copy=True).resolve(ByteSpanPositionProvider))


class SourceIndex:
    """Parsed SGLang modules by dotted name, parsed at most once each (and, through the
    on-disk `ParseCache`, at most once per file content across processes)."""

    def __init__(self, source: SglangSource, parse_cache: ParseCache | None = None) -> None:
        self.source = source
        self._modules: dict[str, ParsedModule | None] = {}
        self._cache = parse_cache or ParseCache()

    def module(self, dotted: str) -> ParsedModule | None:
        """The parsed module, or None when SGLang has no such file."""
        if dotted not in self._modules:
            path = self.source.module_path(dotted)
            self._modules[dotted] = self._parse(dotted, path) if path else None
        return self._modules[dotted]

    def module_for_file(self, path: Path) -> ParsedModule:
        rel = self.source.relative(path)
        dotted = rel[:-3].replace("/", ".")
        if dotted.endswith(".__init__"):
            dotted = dotted[: -len(".__init__")]
        parsed = self.module(dotted)
        if parsed is None:
            raise SourceParseError(f"{path} is not inside the SGLang sources at {self.source.root}.")
        return parsed

    def star_source(self, module: ParsedModule, name: str, depth: int = 0) -> str | None:
        """The module a `from X import *` in `module` takes `name` from, if any."""
        if depth > 4:
            return None
        for star in module.star_imports:
            parsed = self.module(star)
            if parsed is None:
                continue
            if parsed.lookup(name) is not None:
                return parsed.name
            deeper = self.star_source(parsed, name, depth + 1)
            if deeper is not None:
                return deeper
        return None

    def is_package(self, dotted: str) -> bool:
        return (self.source.root.joinpath(*dotted.split(".")) / "__init__.py").is_file()

    def _parse(self, dotted: str, path: Path) -> ParsedModule:
        text = path.read_text(encoding="utf-8", errors="replace")
        cached = self._cache.load(text)
        if cached is not None:
            tree, spans = cached
        else:
            try:
                tree = cst.parse_module(text)
            except cst.ParserSyntaxError as exc:
                raise SourceParseError(
                    f"libcst cannot parse {self.source.relative(path)}: {exc.message} (line {exc.raw_line})",
                    hint="The file may be from a newer Python than libcst supports, or damaged; "
                    "try another SGLang version with --sglang-version or --sglang-path.",
                ) from exc
            spans = byte_spans(tree)  # computed now so the cache entry serves location() too
            self._cache.store(text, tree, spans)
        parsed = ParsedModule(name=dotted, path=path, relpath=self.source.relative(path), source=text, tree=tree, _spans=spans)
        package = dotted if path.name == "__init__.py" else dotted.rsplit(".", 1)[0]
        _index_block(parsed, tree.body, package, conditional=False)
        return parsed


def _index_block(parsed: ParsedModule, body, package: str, *, conditional: bool) -> None:
    for stmt in body:
        if isinstance(stmt, cst.ClassDef):
            _bind(parsed, stmt.name.value, TopLevelDef(stmt, "class", conditional))
        elif isinstance(stmt, cst.FunctionDef):
            _bind(parsed, stmt.name.value, TopLevelDef(stmt, "function", conditional))
        elif isinstance(stmt, cst.If):
            _index_block(parsed, stmt.body.body, package, conditional=True)
            orelse = stmt.orelse
            while orelse is not None:
                _index_block(parsed, orelse.body.body, package, conditional=True)
                orelse = orelse.orelse if isinstance(orelse, cst.If) else None
        elif isinstance(stmt, cst.Try):
            _index_block(parsed, stmt.body.body, package, conditional=conditional)
            for handler in stmt.handlers:
                _index_block(parsed, handler.body.body, package, conditional=True)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                _index_small(parsed, small, package, conditional)


def _index_small(parsed: ParsedModule, small: cst.BaseSmallStatement, package: str, conditional: bool) -> None:
    if isinstance(small, cst.ImportFrom):
        module = _absolute_module(small, package)
        if module is None:
            return
        if isinstance(small.names, cst.ImportStar):
            parsed.star_imports.append(module)
            return
        for alias in small.names:
            name = _dotted(alias.name)
            local = alias.asname.name.value if alias.asname else name
            _bind(parsed, local, TopLevelDef(small, "import", conditional, target=f"{module}.{name}"))
    elif isinstance(small, cst.Import):
        for alias in small.names:
            name = _dotted(alias.name)
            if alias.asname:
                _bind(parsed, alias.asname.name.value, TopLevelDef(small, "import", conditional, target=name))
            else:
                top = name.split(".")[0]
                _bind(parsed, top, TopLevelDef(small, "import", conditional, target=top))
    elif isinstance(small, cst.Assign):
        for target in small.targets:
            if isinstance(target.target, cst.Name):
                _bind(parsed, target.target.value, TopLevelDef(small.value, "assign", conditional))
    elif isinstance(small, cst.AnnAssign) and small.value is not None and isinstance(small.target, cst.Name):
        _bind(parsed, small.target.value, TopLevelDef(small.value, "assign", conditional))


def _bind(parsed: ParsedModule, name: str, binding: TopLevelDef) -> None:
    parsed.defs.setdefault(name, []).append(binding)


def _absolute_module(node: cst.ImportFrom, package: str) -> str | None:
    level = len(node.relative)
    module = _dotted(node.module) if node.module is not None else ""
    if level == 0:
        return module
    parts = package.split(".")
    if level > 1:
        parts = parts[: -(level - 1)]
    base = ".".join(parts)
    return f"{base}.{module}" if module else base


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    raise TypeError(f"not a dotted name: {node!r}")
