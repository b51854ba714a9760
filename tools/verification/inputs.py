"""Valid inputs for a definition: shapes from its axes, index tensors that obey its layout.

`make_inputs(definition, case)` returns the tensors and scalars `run(*inputs)` takes, in
the definition's input order. Constant axes come from the definition; a `Case` gives
the runtime shape (batch, sequence lengths). Paged and ragged layouts get consistent
`indptr`/`indices`; sampling gets probability rows and valid top-k / top-p values.
Families without a dedicated generator get random tensors of the declared shapes.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from pydantic import BaseModel, Field

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


class Case(BaseModel):
    """One runtime shape to check a definition at."""

    label: str
    batch_size: int = 2
    """Sequences in the batch (or rows, for row-wise kernels)."""
    q_lens: list[int] | None = None
    """Query tokens per sequence (prefill); defaults to 1 each (decode)."""
    kv_lens: list[int] | None = None
    """Key/value tokens per sequence, including the queries' own."""
    extra: dict[str, int] = Field(default_factory=dict)
    """Values for other runtime axes, by name."""


def default_cases(definition: dict[str, Any]) -> list[Case]:
    """A few shapes that cover the edge cases of the definition's layout."""
    name, op_type = definition["name"], definition["op_type"]
    page = _const(definition, "page_size") or 1
    if op_type in ("gqa_paged", "mla_paged", "gqa_ragged", "mla_ragged") or "prefill" in name or "decode" in name:
        if "decode" in name:
            return [
                Case(label="one sequence, one token", batch_size=1, kv_lens=[1]),
                Case(label="page boundary", batch_size=3, kv_lens=[page, page + 1, 2 * page + 3]),
            ]
        return [
            Case(label="single token prefill", batch_size=1, q_lens=[1], kv_lens=[1]),
            Case(label="prefill with prefix across pages", batch_size=2, q_lens=[5, 3], kv_lens=[page + 5, 2 * page + 7]),
            Case(label="empty-prefix prefill", batch_size=2, q_lens=[4, 6], kv_lens=[4, 6]),
        ]
    return [Case(label="one row", batch_size=1), Case(label="several rows", batch_size=5)]


def make_inputs(definition: dict[str, Any], case: Case, *, device: str = "cpu", seed: int = 0) -> list[Any]:
    from tools.verification import family_inputs

    generator = torch.Generator(device="cpu").manual_seed(seed)
    extended = family_inputs.family_of(definition)
    if extended is not None:
        values = family_inputs.GENERATORS[extended](definition, case, generator)
    else:
        values = _GENERATORS.get(_family(definition), _generic)(definition, case, generator)
    out = []
    for name in definition["inputs"]:
        value = values[name]
        out.append(value.to(device) if isinstance(value, torch.Tensor) else value)
    return out


def _family(definition: dict[str, Any]) -> str:
    op_type, name = definition["op_type"], definition["name"]
    if op_type == "gqa_paged":
        return "gqa_paged_decode" if "decode" in name else "gqa_paged_prefill"
    if op_type == "sampling":
        return "sampling"
    return op_type


def _const(definition: dict[str, Any], axis: str) -> int | None:
    spec = definition["axes"].get(axis)
    return spec.get("value") if spec and spec.get("type") == "const" else None


def _dtype(definition: dict[str, Any], name: str) -> torch.dtype:
    spec = definition["inputs"].get(name) or definition["outputs"].get(name)
    return DTYPES[spec["dtype"]]


def _randn(shape, dtype, gen, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(*shape, generator=gen, dtype=torch.float32) * scale).to(dtype)


def _shape(definition: dict[str, Any], name: str, sizes: dict[str, int]) -> list[int]:
    spec = definition["inputs"][name]
    dims = []
    for axis in spec["shape"] or []:
        const = _const(definition, axis)
        dims.append(const if const is not None else sizes[axis])
    return dims


def _rows(definition: dict[str, Any], case: Case, gen: torch.Generator) -> dict[str, Any]:
    sizes = {"batch_size": case.batch_size, "M": case.batch_size, "total_q": case.batch_size, **case.extra}
    return _fill_random(definition, sizes, gen)


def _fill_random(definition: dict[str, Any], sizes: dict[str, int], gen: torch.Generator, values: dict[str, Any] | None = None) -> dict[str, Any]:
    values = dict(values or {})
    for name, spec in definition["inputs"].items():
        if name in values:
            continue
        if spec["shape"] is None:
            values[name] = 1.0 if spec["dtype"].startswith("float") else 1
            continue
        shape = _shape(definition, name, sizes)
        dtype = DTYPES[spec["dtype"]]
        if dtype.is_floating_point:
            scale = 1.0 / math.sqrt(shape[-1]) if name in ("B", "b", "weight_t") else 1.0
            values[name] = _randn(shape, dtype, gen, scale)
        elif dtype == torch.bool:
            values[name] = torch.randint(0, 2, shape, generator=gen).bool()
        else:
            values[name] = torch.randint(0, 4, shape, generator=gen, dtype=torch.int64).to(dtype)
    return values


def _generic(definition: dict[str, Any], case: Case, gen: torch.Generator) -> dict[str, Any]:
    sizes = {axis: case.extra.get(axis, case.batch_size) for axis, spec in definition["axes"].items() if spec["type"] == "var"}
    return _fill_random(definition, sizes, gen)


def _paged_layout(case: Case, page_size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, int]:
    kv_lens = case.kv_lens or [1] * case.batch_size
    pages_per_seq = [max(1, math.ceil(n / page_size)) for n in kv_lens]
    total = sum(pages_per_seq)
    num_pages = total + 3  # spare pages that no sequence uses
    order = torch.randperm(num_pages, generator=gen)[:total].to(torch.int32)
    indptr = torch.tensor([0] + list(_cumsum(pages_per_seq)), dtype=torch.int32)
    return indptr, order, num_pages


def _cumsum(values: list[int]):
    total = 0
    for v in values:
        total += v
        yield total


def _gqa_paged(definition: dict[str, Any], case: Case, gen: torch.Generator, *, prefill: bool) -> dict[str, Any]:
    page = _const(definition, "page_size") or 1
    heads, kv_heads, dim = (_const(definition, a) for a in ("num_qo_heads", "num_kv_heads", "head_dim"))
    kv_lens = case.kv_lens or [1] * case.batch_size
    if page > 1 and any(n % page for n in kv_lens):
        # The definitions have no last_page_len: every page is full. Round lengths up.
        kv_lens = [math.ceil(n / page) * page for n in kv_lens]
    layout_case = case.model_copy(update={"kv_lens": kv_lens})
    kv_indptr, kv_indices, num_pages = _paged_layout(layout_case, page, gen)
    q_lens = (case.q_lens or [1] * case.batch_size) if prefill else [1] * case.batch_size
    total_q = sum(q_lens)
    dtype = _dtype(definition, "q")
    values: dict[str, Any] = {
        "q": _randn((total_q if prefill else case.batch_size, heads, dim), dtype, gen),
        "k_cache": _randn((num_pages, page, kv_heads, dim), dtype, gen),
        "v_cache": _randn((num_pages, page, kv_heads, dim), dtype, gen),
        "kv_indptr": kv_indptr,
        "kv_indices": kv_indices,
        "sm_scale": 1.0 / math.sqrt(dim),
    }
    if prefill:
        values["qo_indptr"] = torch.tensor([0] + list(_cumsum(q_lens)), dtype=torch.int32)
    return values


def _gqa_ragged(definition: dict[str, Any], case: Case, gen: torch.Generator) -> dict[str, Any]:
    heads, kv_heads, dim = (_const(definition, a) for a in ("num_qo_heads", "num_kv_heads", "head_dim"))
    q_lens = case.q_lens or [1] * case.batch_size
    kv_lens = case.kv_lens or q_lens
    dtype = _dtype(definition, "q")
    return {
        "q": _randn((sum(q_lens), heads, dim), dtype, gen),
        "k": _randn((sum(kv_lens), kv_heads, dim), dtype, gen),
        "v": _randn((sum(kv_lens), kv_heads, dim), dtype, gen),
        "qo_indptr": torch.tensor([0] + list(_cumsum(q_lens)), dtype=torch.int32),
        "kv_indptr": torch.tensor([0] + list(_cumsum(kv_lens)), dtype=torch.int32),
        "sm_scale": 1.0 / math.sqrt(dim),
    }


def _sampling(definition: dict[str, Any], case: Case, gen: torch.Generator) -> dict[str, Any]:
    vocab = _const(definition, "vocab_size")
    logits = torch.randn(case.batch_size, vocab, generator=gen) * 3.0
    values: dict[str, Any] = {"probs": torch.softmax(logits, dim=-1).to(_dtype(definition, "probs"))}
    if "top_k" in definition["inputs"]:
        values["top_k"] = torch.randint(1, min(vocab, 50) + 1, (case.batch_size,), generator=gen, dtype=torch.int32)
    if "top_p" in definition["inputs"]:
        values["top_p"] = (torch.rand(case.batch_size, generator=gen) * 0.8 + 0.1).to(torch.float32)
    return values


_GENERATORS: dict[str, Callable[[dict[str, Any], Case, torch.Generator], dict[str, Any]]] = {
    "rmsnorm": _rows,
    "gemm": _rows,
    "gqa_paged_decode": lambda d, c, g: _gqa_paged(d, c, g, prefill=False),
    "gqa_paged_prefill": lambda d, c, g: _gqa_paged(d, c, g, prefill=True),
    "gqa_ragged": _gqa_ragged,
    "sampling": _sampling,
}
