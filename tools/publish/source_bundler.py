"""Inlines project modules into one generated file, so that file runs without this project.

A generated reference test must stand alone in the dataset repository, yet use the same
input generators and comparison the verifier uses. `bundle_modules` collects the source
of the named modules and of every project module they import (found with `ast`,
function-level imports included), renamed under a private top-level package so they can
never collide with anything of the same name where the test runs. Packages that discover
their submodules with `pkgutil.iter_modules` get only the submodules asked for: each
generated test carries the one kernel family it needs. The generated file writes the
sources to a temporary directory on first use and imports them from there (`pkgutil`
needs real files).
"""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("tools",)
_IMPORT = re.compile(r"^(?P<indent>\s*)(?P<kw>from|import)\s+(?P<pkg>tools)(?P<rest>[.\s])", re.MULTILINE)


def module_path(module: str, root: Path = PROJECT_ROOT) -> Path | None:
    base = root.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imported_modules(module: str, path: Path, root: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts) + (f".{base}" if base else "")
            if base.split(".")[0] in PROJECT_PACKAGES:
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names if module_path(f"{base}.{a.name}", root))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] in PROJECT_PACKAGES)
    parts = module.split(".")
    found.update(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
    return found


def module_closure(modules: list[str], root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """The modules and every project module they import, by dotted name."""
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = module_path(module, root)
        if path is None:
            continue
        seen[module] = path
        todo.extend(_imported_modules(module, path, root))
    return dict(sorted(seen.items()))


def package_name(sources: dict[str, str]) -> str:
    """A private top-level package name, unique to this bundle's content."""
    digest = hashlib.sha256("".join(f"{k}\0{v}" for k, v in sorted(sources.items())).encode()).hexdigest()[:10]
    return f"_fitrace_bundle_{digest}"


def bundle_modules(modules: list[str], root: Path = PROJECT_ROOT) -> tuple[str, dict[str, str]]:
    """(private package name, {relative file path under it: source with imports renamed})."""
    closure = module_closure(modules, root)
    raw = {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8") for path in closure.values()}
    package = package_name(raw)
    renamed = {rel: _IMPORT.sub(lambda m: f"{m['indent']}{m['kw']} {package}.{m['pkg']}{m['rest']}", text) for rel, text in raw.items()}
    return package, renamed
