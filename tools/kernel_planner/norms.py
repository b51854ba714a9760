"""Norm rules: which of the plain and the fused add + norm kernels a norm runs is decided
by how its owner uses it (`Component.calls`, `handed_to`), never by where it sits.

- `self.norm(h)` runs the plain norm; `self.norm(h, residual)` (or `residual=`) the fused
  add + norm. Gemma 2/3 call their input norm both ways (the first layer has no residual
  yet); OLMo 2's post-norms are only ever called on the hidden states.
- SGLang's layer boundaries take the norm and run it themselves: a stage norm handed to
  `append_stages` reads the residual stream (plain on the first layer, fused after it),
  the final norm handed to `residual_batch.final_norm` adds the last residual (fused).
- `self.q_norm.forward_native(q)` is PyTorch, no kernel.

Anything else (a norm handed to code the parser does not follow) is pending, with the
call that receives it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from tools.model_parser.call_sites import RESIDUAL_STREAM_HELPERS
from tools.model_parser.inventory import Component

if TYPE_CHECKING:
    from tools.kernel_planner import Planner

_HELPER_VARIANTS = {"append_stages": ("plain", "fused"), "final_norm": ("fused",)}
"""What each residual-stream helper runs (see RESIDUAL_STREAM_HELPERS)."""
assert set(_HELPER_VARIANTS) == RESIDUAL_STREAM_HELPERS


def norm_variants(component: Component) -> tuple[set[str], list[str]]:
    """({"plain", "fused"} subset the norm runs, uses that say nothing the parser can read)."""
    variants: set[str] = set()
    unread: list[str] = []
    for count, keywords in component.calls:
        if count < 0:
            unread.append(f"called with *args by {component.owner_class}")
        elif count >= 2 or "residual" in keywords:
            variants.add("fused")
        else:
            variants.add("plain")
    for helper in component.handed_to:
        known = _HELPER_VARIANTS.get(helper.rsplit(".", 1)[-1])
        if known:
            variants.update(known)
        else:
            unread.append(f"handed to {helper}() by {component.owner_class}")
    return variants, unread


def _norm(plain: str, fused: str) -> Callable[[Planner, Component], None]:
    def rule(planner: Planner, component: Component) -> None:
        name = "hidden_size" if "hidden_size" in component.params else "dim"
        hidden = component.value(name)
        if not isinstance(hidden, int):
            planner.pending(component, f"norm width could not be resolved: {planner.unresolved(component, name)}")
            return
        variants, unread = norm_variants(component)
        if "plain" in variants:
            planner.emit(component, plain, {"hidden_size": hidden})
        if "fused" in variants:
            planner.emit(component, fused, {"hidden_size": hidden})
        if unread:
            planner.pending(component, f"how the norm runs could not be read: {'; '.join(unread)}")
        elif not variants:
            if "forward_native" in component.methods_called:
                planner.skip(component, f"{component.owner_class} runs it in PyTorch only (forward_native): no kernel")
            else:
                planner.pending(component, f"{component.owner_class} never calls it nor hands it to SGLang's residual stream: how it runs could not be read")

    return rule


def _layernorm(planner: Planner, component: Component) -> None:
    hidden = component.value("hidden_size")
    if isinstance(hidden, list) and len(hidden) == 1:
        hidden = hidden[0]  # torch's normalized_shape may be a one-element list
    if not isinstance(hidden, int):
        planner.pending(component, f"LayerNorm width could not be resolved: {planner.unresolved(component, 'hidden_size')}")
        return
    variants, unread = norm_variants(component)
    if "fused" in variants or unread:
        # FlashInfer's LayerNorm takes no residual: a residual add fused into it is another kernel.
        planner.pending(component, "LayerNorm " + ("called with a residual" if "fused" in variants else "; ".join(unread)) + ": the layernorm definition has no residual add")
    elif "plain" in variants:
        planner.emit(component, "layernorm", {"hidden_size": hidden})
    else:
        planner.pending(component, f"{component.owner_class} never calls it: how it runs could not be read")


RULES = {
    "norm.rmsnorm": _norm("rmsnorm", "fused_add_rmsnorm"),
    "norm.gemma_rmsnorm": _norm("gemma_rmsnorm", "gemma_fused_add_rmsnorm"),
    "norm.layernorm": _layernorm,
}
