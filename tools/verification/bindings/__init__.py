"""FlashInfer bindings: the FlashInfer call that implements a definition, on its own inputs.

A binding's code is a standalone module in `kernels/` whose `run(*inputs)` takes the
definition's inputs in order and returns its outputs. The same file is what verification
runs on the GPU and what the baseline solution ships (`solutions.py`): the code that was
verified is the code flashinfer-bench benchmarks. Kernel modules import nothing from
this project. Constants a definition bakes into its reference (a MoE's top-k, an
indexer's k) are written into the module's source for that definition (`specialized`),
so the shipped file stays standalone.

Each module of this package declares `BINDINGS`, a list of `Binding`. Which binding
serves a definition is decided from the definition alone (`lookup.py`): its `fi_api:`
tag in any spelling the dataset uses, else its op type and inputs. A binding may call
another FlashInfer API than the tag names (an SM90 kernel computing the same math); it
then says so (`stands_in_for`) and what FlashInfer checks (`checked`).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
import types
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Callable

KERNELS_DIR = Path(__file__).parent / "kernels"
FI_API_TAG = "fi_api:"

# Trailing attributes of a traced method: `...Wrapper.run` names the wrapper.
_METHOD_SUFFIXES = frozenset({"run", "plan", "forward", "__call__"})


def api_name(api: str) -> str:
    """The API an `fi_api:` value names, whatever module path spells it.

    `flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper.run`,
    `flashinfer.BatchPrefillWithPagedKVCacheWrapper` and
    `flashinfer.mla._core.BatchMLAPagedAttentionWrapper` name their class;
    `flashinfer.gdn.gated_delta_rule_decode` and `flashinfer.gdn_decode.gated_delta_rule_decode`
    the same function. FlashInfer's public names are unique across its modules.
    """
    parts = [p for p in api.removeprefix(FI_API_TAG).strip().split(".") if p]
    while len(parts) > 1 and parts[-1] in _METHOD_SUFFIXES:
        parts.pop()
    return parts[-1] if parts else ""


@dataclass(frozen=True)
class Binding:
    name: str
    """Stable id, used in jobs, logs and solution names."""
    fi_api: str
    """The FlashInfer API the kernel module calls (the baseline solution names it)."""
    kernel: str
    """The kernel module under `kernels/` (without `.py`)."""
    op_type: str
    """The op type of the definitions it serves."""
    serves: tuple[str, ...] = ()
    """`fi_api:` tags it serves, as API names (`api_name`); its own API's name always."""
    applies: Callable[[dict[str, Any]], bool] = field(default=lambda definition: True)
    """Further conditions, where one API serves several definitions differently (causal or not)."""
    template: str | None = None
    """`module:attribute` of the FlashInfer trace template whose `check` is recorded alongside."""
    description: str = ""
    checked: str = ""
    """What FlashInfer computes, when it is not the whole definition (`experts: ...; routing: torch`)."""
    requires: tuple[str, ...] = ()
    """Python packages the kernel needs beyond FlashInfer (`cutlass`: the CuTe DSL)."""
    compute_capabilities: tuple[tuple[int, int], ...] = ()
    """GPUs the kernel runs on (empty: any FlashInfer supports)."""
    build_seconds: float = 30.0
    """Cold JIT build of its FlashInfer modules, measured (H100 2026-11-23, H200 2026-11-29):
    orders the work so that comparisons run while slower modules build."""
    prepare_all_cases: bool = False
    """Run on every case, not only the first, while the worker may still write files: the
    kernel compiles a variant per input shape, in the process (CuTe DSL) or through nvcc
    into a disk cache (the DeepGEMM kernels behind fp8_blockscale_gemm_sm90: one per block
    configuration, chosen from M), which a locked-down worker could not do."""
    constants: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """The module constants a definition fixes (raises ValueError when it does not say);
    names starting with `_` are notes that `checked` may quote."""
    values: dict[str, Any] = field(default_factory=dict)
    """The constants this binding was specialized with (`specialized`)."""

    @property
    def source_path(self) -> Path:
        return KERNELS_DIR / f"{self.kernel}.py"

    @property
    def api_names(self) -> tuple[str, ...]:
        return (api_name(self.fi_api), *(api_name(s) for s in self.serves))

    def stands_in_for(self, definition: dict[str, Any]) -> str | None:
        """The tagged API this binding replaces by another one, or None."""
        tag = fi_api_of(definition)
        if tag is None or api_name(tag) == api_name(self.fi_api):
            return None
        return tag

    def checked_text(self) -> str:
        """`checked` with this binding's constants filled in."""
        return self.checked.format(**self.values) if self.values else self.checked

    def source(self) -> str:
        """The kernel module's text, with this binding's constants filled in."""
        return render_constants(self.source_path.read_text(encoding="utf-8"), self.values)

    def parameters(self) -> tuple[list[str], int]:
        """`run`'s parameter names and how many of them are required."""
        return run_parameters(self.source_path.read_text(encoding="utf-8"))

    def accepts_inputs(self, names: list[str]) -> bool:
        """Whether `run(*inputs)` takes exactly these inputs, in this order (trailing defaults may be left out)."""
        params, required = self.parameters()
        return required <= len(names) <= len(params) and params[: len(names)] == names

    def specialized(self, definition: dict[str, Any]) -> Binding:
        """This binding with the constants `definition` fixes (itself when it needs none)."""
        if self.constants is None:
            return self
        return replace(self, values=dict(self.constants(definition)))

    def with_values(self, values: dict[str, Any]) -> Binding:
        return replace(self, values=dict(values)) if values else self

    def load(self) -> Callable[..., Any]:
        """The kernel module's `run`; imports FlashInfer."""
        return self.load_module().run

    def load_module(self) -> types.ModuleType:
        """The kernel module, with this binding's constants (a fresh module when it has some)."""
        if not self.values:
            return importlib.import_module(f"{__name__}.kernels.{self.kernel}")
        module = types.ModuleType(f"{__name__}.kernels.{self.kernel}_specialized")
        module.__file__ = str(self.source_path)
        exec(compile(self.source(), str(self.source_path), "exec"), module.__dict__)  # noqa: S102 - our own module
        return module

    def template_check(self) -> Callable[..., bool] | None:
        if self.template is None:
            return None
        module_name, attribute = self.template.split(":")
        return getattr(importlib.import_module(module_name), attribute).check

    def unavailable_reason(self, compute_capability: tuple[int, int] | None) -> str | None:
        """Why this binding cannot run on this machine, or None."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return f"{self.fi_api} needs {', '.join(missing)} (nvidia-cutlass-dsl), which is not installed here"
        if self.compute_capabilities and compute_capability is not None and compute_capability not in self.compute_capabilities:
            wanted = ", ".join(f"SM{a}{b}" for a, b in self.compute_capabilities)
            return f"{self.fi_api} runs on {wanted} only; this GPU is SM{compute_capability[0]}{compute_capability[1]}"
        return None


def render_constants(source: str, values: dict[str, Any]) -> str:
    """`source` with each `NAME = None` line of `values` set to its value (names starting
    with `_` are notes for the verdict, not module constants)."""
    for name, value in values.items():
        if name.startswith("_"):
            continue
        pattern = re.compile(rf"^{re.escape(name)} = None\b.*$", re.M)
        if not pattern.search(source):
            raise ValueError(f"the kernel module has no `{name} = None` line to fill in")
        source = pattern.sub(lambda _: f"{name} = {value!r}", source, count=1)
    return source


@cache
def run_parameters(source: str) -> tuple[list[str], int]:
    tree = ast.parse(source)
    run = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run"), None)
    if run is None:
        raise ValueError("kernel module defines no run()")
    names = [a.arg for a in run.args.args]
    return names, len(names) - len(run.args.defaults)


@cache
def registered_bindings() -> tuple[Binding, ...]:
    """Every binding declared in this package's modules (discovered once per process)."""
    found: list[Binding] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.ispkg or module_info.name in _NOT_BINDINGS:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found.extend(getattr(module, "BINDINGS", ()))
    names = [b.name for b in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"bindings declared twice: {duplicates}")
    return tuple(found)


_NOT_BINDINGS = frozenset({"lookup", "unbound", "signatures"})


def fi_api_of(definition: dict[str, Any]) -> str | None:
    return next((tag[len(FI_API_TAG) :] for tag in definition.get("tags", []) if tag.startswith(FI_API_TAG)), None)


def binding_for(definition: dict[str, Any]) -> Binding | None:
    """The binding that runs `definition` on FlashInfer (specialized for it), or None."""
    from tools.verification.bindings.lookup import resolve

    return resolve(definition).binding


def binding_named(name: str, values: dict[str, Any] | None = None) -> Binding:
    for binding in registered_bindings():
        if binding.name == name:
            return binding.with_values(values or {})
    raise KeyError(f"no binding named {name!r}")

