"""How a model class calls a module it builds: the keywords of its `self.<name>(...)` calls.

The interpreter runs `__init__` only, but a few kernel choices are made where the module
is called. SGLang's Qwen3-MoE attention, for one, passes `fused_set_kv_buffer_arg` to its
rotary embedding, which then writes the KV cache in the same kernel as the rotation. The
calls are read as text from the owner class's methods and its SGLang base classes (with
Python's `ast`: a libcst walk over every owner class costs seconds per model).
"""

from __future__ import annotations

import ast

from tools.model_parser.source_index import SourceIndex
from tools.model_parser.values import ClassValue


class CallSiteReader:
    """Reads call sites in one SGLang source tree; each module is parsed once."""

    def __init__(self, index: SourceIndex) -> None:
        self.index = index
        self._trees: dict[str, ast.Module | None] = {}
        self._found: dict[tuple[str, str, str], list[str]] = {}

    def keywords_passed(self, owner: ClassValue, attribute: str) -> list[str]:
        """Keyword argument names of every `self.<attribute>(...)` call in `owner`'s class
        body (its methods, its SGLang base classes' too), sorted; [] when it passes none."""
        key = (owner.module, owner.name, attribute)
        if key not in self._found:
            found: set[str] = set()
            for cls in _with_bases(owner):
                for node in self._class_defs(cls):
                    found.update(_keywords(node, attribute))
            self._found[key] = sorted(found)
        return list(self._found[key])

    def _class_defs(self, cls: ClassValue) -> list[ast.ClassDef]:
        if cls.module not in self._trees:
            parsed = self.index.module(cls.module)
            self._trees[cls.module] = ast.parse(parsed.source) if parsed is not None else None
        tree = self._trees[cls.module]
        if tree is None:
            return []
        return [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == cls.name]


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


def _keywords(node: ast.ClassDef, attribute: str) -> list[str]:
    keywords = []
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == attribute and isinstance(func.value, ast.Name) and func.value.id == "self":
            keywords.extend(k.arg for k in call.keywords if k.arg is not None)
    return keywords
