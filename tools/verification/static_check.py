"""Static check of reference code before it may run: the first barrier for untrusted code.

An LLM writes some references, so nothing is executed until the source passes these
rules; the sandboxed worker (`sandbox.py`, `worker.py`) is the second barrier, for what
a static check cannot see. The rules are deliberately narrow: a reference is plain
PyTorch math, so it needs no files, processes, network or introspection.

- it parses, and defines a top-level function `run`;
- it imports only `torch`, `math`, `numpy` (and their submodules), `typing` and
  `__future__` (FlashInfer's own templates start with `from __future__ import annotations`);
- it calls none of the builtins that reach outside the computation (`open`, `exec`,
  `eval`, `__import__`, ...);
- it reaches no module through an attribute (`torch.os`, `numpy.sys`), no file I/O
  helper (`torch.save`, `numpy.load`), and no dunder attribute (`x.__class__`), which
  is how sandbox escapes usually begin.
"""

from __future__ import annotations

import ast

from pydantic import BaseModel, Field

ALLOWED_IMPORTS = frozenset({"torch", "math", "numpy", "typing", "__future__"})

FORBIDDEN_BUILTINS = frozenset(
    {
        "open", "exec", "eval", "compile", "__import__", "input", "breakpoint", "exit", "quit",
        "globals", "locals", "vars", "getattr", "setattr", "delattr", "memoryview", "help",
    }
)

# Attributes that lead out of tensor math: modules re-exported by torch/numpy (torch.os
# exists), serialisation and file helpers, extension loading, remote code.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "os", "sys", "subprocess", "socket", "shutil", "ctypes", "builtins", "importlib", "pathlib",
        "multiprocessing", "threading", "signal", "pickle", "io", "hub", "save", "load", "load_library",
        "cpp_extension", "tofile", "fromfile", "memmap", "savez", "savez_compressed", "savetxt", "loadtxt",
        "genfromtxt", "from_file", "_C",
    }
)

# Names that are modules the code could only have obtained by escaping the rules above.
FORBIDDEN_NAMES = frozenset({"os", "sys", "subprocess", "socket", "shutil", "ctypes", "builtins", "importlib", "pathlib", "__builtins__"})


class StaticCheck(BaseModel):
    """The verdict on one reference's source."""

    passed: bool
    problems: list[str] = Field(default_factory=list)
    """Each broken rule with its line, e.g. `line 3: imports os (allowed: math, numpy, torch, typing)`."""


def check_reference_source(source: str) -> StaticCheck:
    """Apply the rules in the module docstring to `source`."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return StaticCheck(passed=False, problems=[f"line {exc.lineno}: does not parse: {exc.msg}"])
    found = sorted(_import_problems(tree) + _name_problems(tree))
    problems = [f"line {line}: {message}" for line, message in found]
    if not any(isinstance(node, ast.FunctionDef) and node.name == "run" for node in tree.body):
        problems.append("defines no top-level function `run` (the entry point the benchmark calls)")
    return StaticCheck(passed=not problems, problems=problems)


def _import_problems(tree: ast.Module) -> list[tuple[int, str]]:
    allowed = ", ".join(sorted(ALLOWED_IMPORTS))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [("." * node.level) + (node.module or "")]
        else:
            continue
        for module in modules:
            if module.split(".")[0] not in ALLOWED_IMPORTS or module.startswith("."):
                problems.append((node.lineno, f"imports {module} (allowed: {allowed})"))
    return problems


def _name_problems(tree: ast.Module) -> list[tuple[int, str]]:
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS | FORBIDDEN_NAMES:
            problems.append((node.lineno, f"uses `{node.id}`, which reaches outside tensor math"))
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr.endswith("__"):
                problems.append((node.lineno, f"accesses dunder attribute `{node.attr}`"))
            elif node.attr in FORBIDDEN_ATTRIBUTES:
                problems.append((node.lineno, f"uses `.{node.attr}` (file, process or module access is not allowed)"))
    return problems
