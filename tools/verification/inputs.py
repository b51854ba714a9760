"""Valid inputs for a definition: shapes from its axes, index tensors that obey its layout.

`make_inputs(definition, case)` returns the tensors and scalars `run(*inputs)` takes, in
the definition's input order. Constant axes come from the definition; a `Case` gives
the runtime shape (batch, sequence lengths). Each kernel family (`families/`) knows
how to build inputs its kernels accept: consistent `indptr`/`indices` for paged and
ragged layouts, probability rows and valid top-k / top-p values for sampling.
Definitions of no known family get random tensors of the declared shapes.
"""

from __future__ import annotations

from typing import Any

import torch

from tools.verification.case import Case, Purpose
from tools.verification.families import family_for
from tools.verification.tensors import DTYPES

__all__ = ["Case", "DTYPES", "Purpose", "default_cases", "make_inputs"]


def default_cases(definition: dict[str, Any], purpose: Purpose = "check") -> list[Case]:
    """The shapes to run `definition` at: a few small ones to `check` a reference on the
    CPU, or the edge cases and large batches to `verify` it against FlashInfer."""
    return family_for(definition).cases(definition, purpose)


def make_inputs(definition: dict[str, Any], case: Case, *, device: str = "cpu", seed: int = 0) -> list[Any]:
    generator = torch.Generator(device="cpu").manual_seed(seed)
    values = family_for(definition).make_inputs(definition, case, generator)
    missing = [name for name in definition["inputs"] if name not in values]
    if missing:
        raise ValueError(f"{definition['name']}: the input generator produced no {missing}")
    out = []
    for name in definition["inputs"]:
        value = values[name]
        out.append(value.to(device) if isinstance(value, torch.Tensor) else value)
    return out
