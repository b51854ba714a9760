"""The documented fields (`documented_format.py`), computed from what the analysis found.

Paths follow the documented layout: `model_file` in the SGLang repository
(`python/sglang/srt/models/llama.py`), `code_location` relative to `sglang/srt/`
(`models/llama.py:366-366`). The analysis itself keeps package paths
(`sglang/srt/models/llama.py`), which hold for a wheel and a checkout alike.
"""

from __future__ import annotations

import re
from typing import Any

from tools.baseline.routes import Route
from tools.baseline.schema import BaselineRoute, ForwardPass, ForwardPassSummary, ImplementationCall, KernelCall, LayerEntry
from tools.model_parser.inventory import Component, ParamValue, SourceSpan

PACKAGE_ROOT = "sglang/srt/"
"""Where `code_location` paths are relative to."""
REPOSITORY_PACKAGE_DIR = "python/"
"""Where the `sglang` package sits in the SGLang repository."""

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def repository_path(package_file: str) -> str:
    """`sglang/srt/models/llama.py` -> `python/sglang/srt/models/llama.py`."""
    return REPOSITORY_PACKAGE_DIR + package_file if package_file.startswith("sglang/") else package_file


def code_location(span: SourceSpan | None) -> str | None:
    """`sglang/srt/models/llama.py:366-366` -> `models/llama.py:366-366`."""
    return str(span).removeprefix(PACKAGE_ROOT) if span is not None else None


def kernel_name(route: Route, baseline: BaselineRoute) -> str | None:
    """The kernel function the route's innermost step calls, named as `KernelCallEntry.kernel`
    says; None unless every step was found (a name is never guessed)."""
    if not baseline.complete:
        return None
    last = baseline.entry_points[-1]
    if last.call is None:  # the step is the kernel function itself
        return f"{last.module}.{last.defined_in or last.symbol}"
    method = last.call.callee.rsplit(".", 1)[-1]
    if route.kernel_object_step is not None:
        builder = baseline.entry_points[route.kernel_object_step].call
        if builder is not None:
            return f"{_resolved(builder.callee, builder.resolves_to)}.{method}"
    callee = last.call.callee
    if callee.startswith("self."):  # an attribute of the class the step belongs to
        callee = f"{last.symbol.split('.')[0]}{callee.removeprefix('self')}"
    return _resolved(callee, last.call.resolves_to)


def _resolved(callee: str, resolves_to: list[str]) -> str:
    """The one dotted name the callee is bound to; the callee as written when the module
    binds it to several (a CUDA and a fallback import) or to an expression."""
    if len(resolves_to) == 1 and _DOTTED.fullmatch(resolves_to[0]):
        return resolves_to[0]
    return callee


def forward_pass_structure(forward: ForwardPass, calls: list[tuple[KernelCall, Component]]) -> ForwardPassSummary:
    """The documented forward-pass structure of one profile; `calls` are that profile's entries."""
    kernels: dict[tuple, list[str]] = {}
    types: dict[tuple, str] = {}
    for call, component in calls:
        key = (component.path, component.class_name, tuple(component.layers))
        types[key] = _type(component)
        names = kernels.setdefault(key, [])
        if call.kernel is not None and call.kernel not in names:
            names.append(call.kernel)
    layers = []
    for step in forward.decoder_layers.components:
        key = (step.path, step.class_name, tuple(step.layers))
        names = kernels.get(key, [])
        one = dict(kernel=names[0]) if len(names) == 1 else dict(kernels=names)
        layers.append(LayerEntry(name=_within_layer(step.path), type=types.get(key, step.class_name), layers=step.layers, **one))
    return ForwardPassSummary(
        embedding=_first(s.path for s in forward.embedding),
        layers=layers,
        final_norm=_first(s.path for s in forward.final_norm),
        lm_head=_first(s.path for s in forward.lm_head if s.kind == "lm_head"),
    )


def _type(component: Component) -> str:
    """The module's class: for a factory (`get_rope`), the one class it builds, when one."""
    return component.builds[0].class_name if len(component.builds) == 1 else component.class_name


def implementation_calls(calls: list[tuple[KernelCall, Component]], model_file: str) -> list[ImplementationCall]:
    """One documented kernel call per module and kernel function found, with the resolved
    constructor arguments of the module that makes it."""
    found: dict[str, ImplementationCall] = {}
    for call, component in calls:
        if call.kernel is None or component.location is None:
            continue
        entry = ImplementationCall(
            function=call.kernel,
            location=_line(component.location, model_file),
            parameters=_values(component.params),
            module=call.module,
        )
        found.setdefault(entry.model_dump_json(), entry)
    return list(found.values())


def _line(span: SourceSpan, model_file: str) -> str:
    line = f"line {span.start_line}"
    return line if span.file == model_file else f"{span.file.removeprefix(PACKAGE_ROOT)} {line}"


def _values(params: dict[str, ParamValue]) -> dict[str, Any]:
    """Each argument's value; its expression where the value is unknown; left out when neither is known."""
    values = {}
    for name, param in params.items():
        if param.value is not None:
            values[name] = param.value
        elif param.expr is not None:
            values[name] = param.expr
    return values


def _within_layer(path: str) -> str:
    """`model.layers.*.self_attn.attn` -> `self_attn.attn`."""
    return path.split(".*.", 1)[1] if ".*." in path else path


def _first(paths) -> str | None:
    return next(iter(paths), None)
