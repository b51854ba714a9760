"""Index layouts of batched attention inputs: `indptr` offsets and paged-KV page tables.

Pure functions of lengths (and a seeded generator for page placement), so the
invariants the kernels rely on can be tested alone: indptr starts at 0, never
decreases and ends at the total; page ids are distinct and inside the cache.
"""

from __future__ import annotations

from itertools import accumulate

import torch
from pydantic import BaseModel, ConfigDict

SPARE_PAGES = 3
"""Pages in the cache that no sequence uses, so a kernel reading past its pages reads garbage."""


class PagedLayout(BaseModel):
    """Where each sequence's pages are in a paged KV cache."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kv_indptr: torch.Tensor
    """int32 [batch + 1]: sequence b owns `kv_indices[kv_indptr[b]:kv_indptr[b + 1]]`."""
    kv_indices: torch.Tensor
    """int32 [total pages]: page ids, distinct, in a shuffled order."""
    kv_last_page_len: torch.Tensor
    """int32 [batch]: tokens in each sequence's last page (page_size when every page is full)."""
    num_pages: int
    """Pages in the cache (used ones plus spares)."""


def indptr(lengths: list[int]) -> torch.Tensor:
    """int32 offsets `[0, l0, l0 + l1, ...]` of consecutive segments."""
    if any(n < 0 for n in lengths):
        raise ValueError(f"segment lengths must be non-negative, got {lengths}")
    return torch.tensor([0, *accumulate(lengths)], dtype=torch.int32)


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def pages_needed(kv_lens: list[int], page_size: int, *, partial_last_page: bool = False) -> list[int]:
    """Pages per sequence.

    Without `partial_last_page` (definitions with no `kv_last_page_len`, page size 1
    among them) a sequence's KV length is its page count times the page size, so
    lengths must be whole pages; with it, the last page holds the remainder.
    """
    partial = [n for n in kv_lens if n % page_size]
    if partial and not partial_last_page:
        raise ValueError(f"KV lengths {partial} are not multiples of the page size {page_size}")
    return [-(-n // page_size) for n in kv_lens]


def paged_layout(kv_lens: list[int], page_size: int, generator: torch.Generator, *, partial_last_page: bool = False) -> PagedLayout:
    """A page table for sequences of `kv_lens` tokens, pages scattered over the cache."""
    counts = pages_needed(kv_lens, page_size, partial_last_page=partial_last_page)
    used = sum(counts)
    num_pages = used + SPARE_PAGES
    order = torch.randperm(num_pages, generator=generator)[:used].to(torch.int32)
    last = [n - (pages - 1) * page_size if pages else 0 for n, pages in zip(kv_lens, counts)]
    return PagedLayout(
        kv_indptr=indptr(counts), kv_indices=order, kv_last_page_len=torch.tensor(last, dtype=torch.int32), num_pages=num_pages
    )
