"""Reading a definition's interface, for the bindings' `applies` conditions."""

from __future__ import annotations

from typing import Any


def input_shape(definition: dict[str, Any], name: str) -> list[str] | None:
    spec = definition["inputs"].get(name)
    return spec.get("shape") if spec else None


def input_dtype(definition: dict[str, Any], name: str) -> str | None:
    spec = definition["inputs"].get(name)
    return spec.get("dtype") if spec else None


def const_axis(definition: dict[str, Any], axis: str) -> int | None:
    spec = definition["axes"].get(axis)
    return spec.get("value") if spec and spec.get("type") == "const" else None
