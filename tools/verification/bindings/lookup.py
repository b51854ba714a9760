"""Which binding serves a definition, decided from the definition alone.

1. A definition with an `fi_api:` tag is served by the bindings that name that API, in
   any spelling (`api_name`): module path, wrapper class or its `.run`.
2. One without a tag (the dataset's GEMMs, GDN MTP and DSA indexer files) is served by
   the bindings of its op type.
Either way the binding's `run` must take the definition's inputs by name and in order,
and its own conditions must hold (causal, page layout, dtypes). Exactly one binding
may match. When none does, the resolution says why: the API is known to have no kernel
on the GPUs this project verifies on (`unbound.py`), no binding serves it, or the
bindings that serve it take other inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tools.verification.bindings import Binding, api_name, fi_api_of, registered_bindings
from tools.verification.bindings.unbound import unbound_reason

MatchedBy = Literal["fi_api tag", "op type and inputs"]


@dataclass(frozen=True)
class Resolution:
    """A definition's binding (specialized for it), or why it has none."""

    binding: Binding | None
    matched_by: MatchedBy | None = None
    reason: str | None = None
    """Why there is no binding: the text of an `unverifiable` verdict."""


def resolve(definition: dict[str, Any]) -> Resolution:
    tag = fi_api_of(definition)
    op_type = definition["op_type"]
    inputs = list(definition["inputs"])
    if tag:
        name = api_name(tag)
        serving = [b for b in registered_bindings() if name in b.api_names and b.op_type == op_type]
        if not serving:
            return Resolution(None, reason=unbound_reason(name, op_type) or f"no binding serves {tag} (op type {op_type})")
        matched_by: MatchedBy = "fi_api tag"
    else:
        serving = [b for b in registered_bindings() if b.op_type == op_type]
        if not serving:
            return Resolution(None, reason=unbound_reason(None, op_type) or f"no fi_api tag, and no binding serves op type {op_type}")
        matched_by = "op type and inputs"
    matches = [b for b in serving if b.accepts_inputs(inputs) and b.applies(definition)]
    if len(matches) > 1:
        raise ValueError(f"{definition['name']}: several bindings apply: {[b.name for b in matches]}")
    if not matches:
        offered = "; ".join(f"{b.name} takes ({', '.join(b.parameters()[0])})" for b in serving)
        what = tag or f"op type {op_type}"
        return Resolution(None, reason=f"no binding for {what} takes these inputs ({', '.join(inputs)}) under these conditions: {offered}")
    try:
        return Resolution(matches[0].specialized(definition), matched_by=matched_by)
    except ValueError as exc:
        return Resolution(None, reason=f"{matches[0].name}: {exc}")
