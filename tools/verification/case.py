"""One runtime shape to run a definition at: the sizes its constant axes leave open."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

Purpose = Literal["check", "verify"]
"""`check`: a few small shapes for the CPU sanity check of a reference; `verify`: the
shapes a reference is compared at against FlashInfer, edge cases and large batches included."""


class Case(BaseModel):
    """One runtime shape to check a definition at."""

    label: str
    """What the case exercises, for reports (`page boundary`, `empty sequence in the batch`)."""
    batch_size: int = 2
    """Sequences in the batch (or rows, for row-wise kernels)."""
    q_lens: list[int] | None = None
    """Query tokens per sequence (prefill); defaults to 1 each (decode)."""
    kv_lens: list[int] | None = None
    """Key/value tokens per sequence, including the queries' own."""
    extra: dict[str, int] = Field(default_factory=dict)
    """Values for other runtime axes, by name (and family knobs such as `distinct_rows`)."""
    values: dict[str, list[float]] = Field(default_factory=dict)
    """Explicit per-row values of small inputs (`top_k`, `top_p`), cycled over the batch."""

    @model_validator(mode="after")
    def _validate_query_within_kv(self) -> "Case":
        if self.q_lens and self.kv_lens and len(self.q_lens) == len(self.kv_lens) and any(q > kv for q, kv in zip(self.q_lens, self.kv_lens)):
            raise ValueError(f"case {self.label!r}: a sequence has more query tokens than KV tokens")
        return self
