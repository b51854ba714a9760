"""Loading reference code and reading what it returns. Used inside the sandboxed worker."""

from __future__ import annotations

import linecache
from typing import Any


def load_reference(source: str, name: str):
    """The `run` function of reference `source`. Executes untrusted code: worker only."""
    namespace: dict[str, Any] = {"__name__": f"reference_{name}"}
    filename = f"<reference {name}>"
    # Registered so that tracebacks quote the failing line: the repair prompt shows them.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - isolated worker
    run = namespace.get("run")
    if not callable(run):
        raise RuntimeError("reference defines no callable run()")
    return run


def as_outputs(result: Any, names: list[str]) -> list[Any]:
    """A run() result as a list in the definition's output order."""
    if isinstance(result, dict):
        return [result.get(n) for n in names]
    if isinstance(result, (tuple, list)):
        return list(result)
    return [result]


def var_axis_values(definition: dict[str, Any], inputs: list[Any]) -> dict[str, int]:
    """Sizes of the definition's runtime axes, read off the generated inputs."""
    values: dict[str, int] = {}
    for (name, spec), value in zip(definition["inputs"].items(), inputs):
        if spec["shape"] is None or not hasattr(value, "shape"):
            continue
        for axis, size in zip(spec["shape"], value.shape):
            if definition["axes"][axis]["type"] == "var":
                values.setdefault(axis, int(size))
    return values
