"""Small definitions built the way extraction builds them: FlashInfer trace templates, normalised."""

from __future__ import annotations

import torch

from tools.definition_builder.builder import BuildContext, build_definition, validate_definition
from tools.definition_builder.normalize import normalize_template_definition
from tools.kernel_spec import KernelSpec

CONTEXT = BuildContext(model_slug="test-model", sglang_version="test")
SMALL_GQA = {"num_qo_heads": 4, "num_kv_heads": 2, "head_dim": 16}


def build(family: str, **axes: int) -> dict:
    return build_definition(KernelSpec(family=family, axes=axes), CONTEXT)


def mla(stage: str, *, heads: int = 16, page_size: int = 1) -> dict:
    """An MLA paged definition from FlashInfer's own template (the builder has no MLA family yet)."""
    from flashinfer.trace.templates import attention

    template = attention.mla_paged_decode_trace if stage == "decode" else attention.mla_paged_prefill_trace
    meta = lambda *shape: torch.empty(*shape, dtype=torch.bfloat16, device="meta")  # noqa: E731
    raw = template.build_fi_trace_fn("flashinfer.mla.BatchMLAPagedAttentionWrapper.run")(
        q_nope=meta(7, heads, 512), q_pe=meta(7, heads, 64), ckv_cache=meta(11, page_size, 512), kpe_cache=meta(11, page_size, 64)
    )
    definition = normalize_template_definition(raw)
    definition["tags"] = sorted(definition["tags"] + ["status:unverified", "model:test-model"])
    validate_definition(definition)
    return definition
