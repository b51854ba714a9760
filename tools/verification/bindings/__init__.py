"""FlashInfer bindings: the FlashInfer call that implements a definition, on its own inputs.

A binding's code is a standalone module in `kernels/` whose `run(*inputs)` takes the
definition's inputs in order and returns its outputs, calling the FlashInfer API named
by the definition's `fi_api:` tag. The same file is what verification runs on the GPU
and what the baseline solution ships (`solutions.py`): the code that was verified is the
code flashinfer-bench benchmarks. Kernel modules import nothing from this project.

Each module of this package declares `BINDINGS`, a list of `Binding`. Adding a kernel
family (MLA, MoE, GDN, DSA...) is adding a kernel file and a module declaring its
binding: nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Callable

KERNELS_DIR = Path(__file__).parent / "kernels"
FI_API_TAG = "fi_api:"


@dataclass(frozen=True)
class Binding:
    name: str
    """Stable id, used in jobs, logs and solution names."""
    fi_api: str
    """The definitions' `fi_api:` tag this binding serves."""
    kernel: str
    """The kernel module under `kernels/` (without `.py`)."""
    aliases: tuple[str, ...] = ()
    """Other spellings of the same API in `fi_api:` tags (FlashInfer traces some under their defining module)."""
    applies: Callable[[dict[str, Any]], bool] = field(default=lambda definition: True)
    """Further conditions, where one API serves several definitions differently (causal or not)."""
    template: str | None = None
    """`module:attribute` of the FlashInfer trace template whose `check` is recorded alongside."""
    description: str = ""

    @property
    def source_path(self) -> Path:
        return KERNELS_DIR / f"{self.kernel}.py"

    def source(self) -> str:
        return self.source_path.read_text(encoding="utf-8")

    def load(self) -> Callable[..., Any]:
        """The kernel module's `run`; imports FlashInfer."""
        module = importlib.import_module(f"{__name__}.kernels.{self.kernel}")
        return module.run

    def template_check(self) -> Callable[..., bool] | None:
        if self.template is None:
            return None
        module_name, attribute = self.template.split(":")
        return getattr(importlib.import_module(module_name), attribute).check


@cache
def registered_bindings() -> tuple[Binding, ...]:
    """Every binding declared in this package's modules (discovered once per process)."""
    found: list[Binding] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found.extend(getattr(module, "BINDINGS", ()))
    names = [b.name for b in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"bindings declared twice: {duplicates}")
    return tuple(found)


def fi_api_of(definition: dict[str, Any]) -> str | None:
    return next((tag[len(FI_API_TAG) :] for tag in definition.get("tags", []) if tag.startswith(FI_API_TAG)), None)


def binding_for(definition: dict[str, Any]) -> Binding | None:
    """The binding that runs `definition` on FlashInfer, or None if there is none yet."""
    api = fi_api_of(definition)
    matches = [b for b in registered_bindings() if api in (b.fi_api, *b.aliases) and b.applies(definition)]
    if len(matches) > 1:
        raise ValueError(f"{definition['name']}: several bindings apply: {[b.name for b in matches]}")
    return matches[0] if matches else None


def binding_named(name: str) -> Binding:
    for binding in registered_bindings():
        if binding.name == name:
            return binding
    raise KeyError(f"no binding named {name!r}")
