"""Random tensors of a definition's declared shapes and dtypes."""

from __future__ import annotations

import math
from typing import Any

import torch

DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float8_e4m3fn": torch.float8_e4m3fn,
    "float8_e5m2": torch.float8_e5m2,
    "int64": torch.int64,
    "int32": torch.int32,
    "int16": torch.int16,
    "int8": torch.int8,
    "bool": torch.bool,
}

# Weight-like inputs get variance 1/K so that a product over K stays of order one.
_FAN_IN_SCALED = frozenset({"B", "b", "weight_t"})


def const_axis(definition: dict[str, Any], axis: str) -> int | None:
    spec = definition["axes"].get(axis)
    return spec.get("value") if spec and spec.get("type") == "const" else None


def dtype_of(definition: dict[str, Any], name: str) -> torch.dtype:
    spec = definition["inputs"].get(name) or definition["outputs"].get(name)
    return DTYPES[spec["dtype"]]


def randn(shape, dtype: torch.dtype, generator: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(*shape, generator=generator, dtype=torch.float32) * scale).to(dtype)


def input_shape(definition: dict[str, Any], name: str, sizes: dict[str, int]) -> list[int]:
    """The shape of input `name`, constant axes from the definition and the rest from `sizes`."""
    dims = []
    for axis in definition["inputs"][name]["shape"] or []:
        const = const_axis(definition, axis)
        if const is None and axis not in sizes:
            raise ValueError(f"{definition['name']}: no size for runtime axis {axis!r} of input {name!r}")
        dims.append(const if const is not None else sizes[axis])
    return dims


def fill_random(
    definition: dict[str, Any], sizes: dict[str, int], generator: torch.Generator, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`values`, completed with random tensors (and unit scalars) for every other input."""
    values = dict(values or {})
    for name, spec in definition["inputs"].items():
        if name in values:
            continue
        if spec["shape"] is None:
            values[name] = 1.0 if spec["dtype"].startswith("float") else 1
            continue
        shape = input_shape(definition, name, sizes)
        dtype = DTYPES[spec["dtype"]]
        if dtype.is_floating_point:
            scale = 1.0 / math.sqrt(shape[0]) if name in _FAN_IN_SCALED and shape else 1.0
            values[name] = randn(shape, dtype, generator, scale)
        elif dtype == torch.bool:
            values[name] = torch.randint(0, 2, shape, generator=generator).bool()
        else:
            values[name] = torch.randint(0, 4, shape, generator=generator, dtype=torch.int64).to(dtype)
    return values
