"""The flashinfer-trace dataset's own conventions, each with the official file it comes from.

The dataset is the reference for what a definition looks like: its names, layouts,
dtypes and tags. Where the files of one op type agree, the convention is written down
here and new definitions follow it; where they disagree, the choice and why is written
down too, and the files that depart from the chosen convention are listed (`DEPARTURES`)
with exactly how they differ. Every source is a file of the last snapshot before the
dataset moved to Hugging Face (flashinfer-ai/flashinfer-bench@e489a246,
`flashinfer_trace/definitions/`).

- `TAGS`: which parallelism tags (`tp:`, `ep:`) an op type's files carry.
- `FAMILIES` (written in `family_conventions.py`): per kernel family of the definition
  builder, its signature convention in words, its tags (stage, descriptive tags, the
  `fi_api:` spelling) and its sources.
- `DEPARTURES`: official files that differ from their family's convention, and why.
- `dataset_tags`: a new definition's tags, in the dataset's vocabulary and order.
- `signature_facts` / `signature_differences`: the signature of a definition as the
  ground truth transcribes it, and how two signatures differ (order included).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tools import naming
from tools.family_conventions import FAMILIES, SNAPSHOT, FamilyConvention, family_convention, family_of_name

__all__ = [
    "DEPARTURES",
    "FAMILIES",
    "SNAPSHOT",
    "TAGS",
    "Departure",
    "FamilyConvention",
    "TagConvention",
    "dataset_tags",
    "departure_for",
    "family_convention",
    "family_of_name",
    "parallel_tag_prefixes",
    "signature_differences",
    "signature_facts",
]

class TagConvention(BaseModel):
    """Which parallelism tags the dataset's definitions of one op type carry."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    op_type: str
    parallel: tuple[str, ...]
    """Tag prefixes (`tp:`, `ep:`) the op type's files carry; the others carry none."""
    source: str
    """Official files showing it."""


TAGS: dict[str, TagConvention] = {
    c.op_type: c
    for c in (
        TagConvention(op_type="gqa_paged", parallel=("tp:",), source=f"{SNAPSHOT}/gqa_paged/gqa_paged_decode_h32_kv8_d128_ps64.json (tp:1; 37 of 37 files)"),
        TagConvention(op_type="gqa_ragged", parallel=("tp:",), source=f"{SNAPSHOT}/gqa_ragged/gqa_ragged_prefill_causal_h32_kv8_d128.json (9 of 9 files)"),
        TagConvention(op_type="mla_paged", parallel=("tp:",), source=f"{SNAPSHOT}/mla_paged/mla_paged_decode_h16_ckv512_kpe64_ps1.json (6 of 6 files with stage tags)"),
        TagConvention(op_type="mla_ragged", parallel=("tp:",), source=f"{SNAPSHOT}/mla_ragged/mla_ragged_prefill_causal_h16_qk192_vo128.json"),
        TagConvention(
            op_type="dsa_paged",
            parallel=("tp:",),
            source=f"{SNAPSHOT}/dsa_paged/dsa_sparse_attention_h16_ckv512_kpe64_topk2048_ps1.json (the indexer carries none: see FAMILIES)",
        ),
        TagConvention(op_type="gdn", parallel=("tp:",), source=f"{SNAPSHOT}/gdn/gdn_decode_qk4_v8_d128_k_last.json (9 of 9 files)"),
        TagConvention(op_type="mamba_ssu", parallel=("tp:",), source=f"{SNAPSHOT}/mamba_ssu/mamba_ssu_decode_h64_d64_s128_ng4.json"),
        TagConvention(op_type="moe", parallel=("ep:", "tp:"), source=f"{SNAPSHOT}/moe/moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e384_h7168_i2048.json (ep:1, tp:8)"),
        TagConvention(op_type="gemm", parallel=(), source=f"{SNAPSHOT}/gemm/gemm_n6144_k4096.json (no tp: tag in any of the 32 files)"),
        TagConvention(op_type="rmsnorm", parallel=(), source=f"{SNAPSHOT}/rmsnorm/rmsnorm_h4096.json (none of the 15 files)"),
        TagConvention(op_type="sampling", parallel=(), source=f"{SNAPSHOT}/sampling/top_k_sampling_from_probs_v128256.json (none of the 21 files)"),
        TagConvention(op_type="rope", parallel=(), source=f"{SNAPSHOT}/rope/rope_with_cos_sin_cache_neox_style_d128_rd64.json"),
        # Op types with no official file yet: as the nearest op type.
        TagConvention(op_type="kda", parallel=("tp:",), source="no official file; as gdn (heads split by TP)"),
        TagConvention(op_type="layernorm", parallel=(), source="no official file; as rmsnorm"),
        TagConvention(op_type="gemm_fp8", parallel=(), source="no official file; as gemm"),
    )
}


def parallel_tag_prefixes(op_type: str, name: str | None = None) -> tuple[str, ...]:
    """The parallelism tags a definition of `op_type` (named `name`, when known) carries.

    A family may carry fewer than its op type (the DSA indexer: none); op types the
    dataset has no files of yet keep both, as the nearest families do."""
    family = family_of_name(name) if name else None
    if family is not None and family.parallel is not None:
        return family.parallel
    convention = TAGS.get(op_type)
    return convention.parallel if convention else ("tp:", "ep:")


def dataset_tags(
    *,
    op_type: str,
    name: str | None,
    model_slug: str,
    stage: str | None = None,
    descriptive: tuple[str, ...] = (),
    fi_api: str | None = None,
    tps: list[int] | tuple[int, ...] = (),
    ep: int | None = None,
    status: str = "unverified",
) -> list[str]:
    """A definition's tags in the dataset's order: `stage:`, `status:`, `model:`, the
    descriptive tags, `fi_api:`, then the parallel tags the op type carries (`ep:` before
    `tp:`), e.g. moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e384_h7168_i2048.json:
    status:verified, model:kimi-k2, quantization:float8_e4m3fn, fi_api:..., ep:1, tp:8."""
    tags = [naming.stage_tag(stage)] if stage else []
    tags += [naming.status_tag(status), naming.model_tag(model_slug), *descriptive]
    if fi_api:
        tags.append(naming.fi_api_tag(fi_api))
    parallel = parallel_tag_prefixes(op_type, name)
    if "ep:" in parallel and ep is not None:
        tags.append(naming.ep_tag(ep))
    if "tp:" in parallel:
        tags += [naming.tp_tag(tp) for tp in sorted(set(tps))]
    return tags


# ------------------------------------------------------------------ departures


class Departure(BaseModel):
    """An official file the extraction deliberately does not reproduce, and why."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    name: str
    """The official definition."""
    kind: Literal["inconsistent_file", "other_kernel", "other_math"]
    """`inconsistent_file`: the same kernel written another way than the family's other
    files (a new definition follows the convention); `other_kernel`: the file describes
    another kernel than the one the model runs under this name (a real conflict);
    `other_math`: the file computes something else than what SGLang runs for the model
    it is tagged with, so the extraction writes `written_instead`."""
    differences: tuple[str, ...] = ()
    """What the builder produces against the file, in `signature_differences`' words."""
    reason: str
    written_instead: str | None = None
    """`other_math`: the definition the extraction writes for the model instead."""


def _prefill_len_indptr(name: str) -> Departure:
    return Departure(
        name=name,
        kind="inconsistent_file",
        differences=(
            "axis batch_size (var) not in the official file",
            "input kv_last_page_len shape ['batch_size'] (official ['len_indptr'])",
        ),
        reason=(
            "6 of the 10 GQA paged prefill files at page size 64 declare kv_last_page_len over len_indptr (batch + 1) "
            "with no batch_size axis; the kernel reads one length per sequence, as the other 4, the decode files and "
            "MLA's prefill declare it."
        ),
    )


def _decode_page_axes_first(name: str) -> Departure:
    return Departure(
        name=name,
        kind="inconsistent_file",
        differences=(
            "axis order ['batch_size', 'num_qo_heads', 'num_kv_heads', 'head_dim', 'num_pages', 'page_size', 'len_indptr', 'num_kv_indices'] "
            "(official ['batch_size', 'num_qo_heads', 'num_kv_heads', 'head_dim', 'page_size', 'num_pages', 'len_indptr', 'num_kv_indices'])",
        ),
        reason=(
            "5 of the 8 GQA paged decode files at page size 64 list page_size before num_pages; the page-size-1 files "
            "and the other 3 (llama-3.1-8b's among them, the group whose prefill files the convention follows) list "
            "num_pages first. Order only: same inputs, same kernel."
        ),
    )


DEPARTURES: dict[str, Departure] = {
    d.name: d
    for d in (
        *(_decode_page_axes_first(f"gqa_paged_decode_{h}_d128_ps64") for h in ("h16_kv2", "h20_kv4", "h24_kv4", "h24_kv8", "h32_kv16")),
        *(_prefill_len_indptr(f"gqa_paged_prefill_causal_{h}_d128_ps64") for h in ("h16_kv1", "h16_kv2", "h20_kv4", "h24_kv4", "h24_kv8", "h32_kv16")),
        Departure(
            name="gqa_paged_prefill_causal_h5_kv1_d128_ps64",
            kind="inconsistent_file",
            differences=(
                "axis order ['num_qo_heads', 'num_kv_heads', 'head_dim', 'page_size', 'len_indptr', 'total_q', 'num_kv_indices', 'num_pages', 'batch_size'] "
                "(official ['num_qo_heads', 'num_kv_heads', 'head_dim', 'page_size', 'batch_size', 'len_indptr', 'total_q', 'num_kv_indices', 'num_pages'])",
            ),
            reason="The batch_size axis sits after page_size here and last in the other three files with a batch_size axis. Order only.",
        ),
        Departure(
            name="moe_fp8_block_scale_ds_routing_topk8_ng8_kg4_e32_h7168_i2048",
            kind="inconsistent_file",
            differences=(
                "axis top_k (8) not in the official file",
                "constraints ['gemm1_weights.shape[1] == 2 * intermediate_size', 'gemm2_weights.shape[1] == hidden_size', "
                "'gemm2_weights.shape[2] == intermediate_size'] (official [])",
            ),
            reason=(
                "The oldest DeepSeek-routing file: no top_k axis and no constraints. The two newer files "
                "(ng1_kg1_e384, ng1_kg1_e48) declare both; the convention follows them. Same kernel and inputs."
            ),
        ),
        *(
            Departure(
                name=f"{prefix}rmsnorm_h5376",
                kind="other_math",
                written_instead=f"gemma_{prefix}rmsnorm_h5376",
                reason=(
                    f"The file computes {math} and is tagged model:gemma-3-27b; SGLang 0.5.23 builds every Gemma 3 "
                    f"decoder norm as Gemma3RMSNorm (srt/models/gemma3_causal.py), whose forward calls FlashInfer's "
                    f"gemma_{prefix}rmsnorm, {gemma_math} (srt/layers/layernorm.py GemmaRMSNorm._forward_impl): "
                    f"the extraction writes gemma_{prefix}rmsnorm_h5376 for the model instead."
                ),
            )
            for prefix, math, gemma_math in (
                ("", "x * w", "x * (1 + w)"),
                ("fused_add_", "(x + r) * w", "(x + r) * (1 + w)"),
            )
        ),
        Departure(
            name="moe_fp8_block_scale_renorm_topk10_e128_h2048_i512",
            kind="other_kernel",
            differences=(
                "axis num_experts (512) not in the official file",
                "input local_expert_offset not in the official file",
                "input routing_logits shape ['seq_len', 'num_experts'] (official ['seq_len', 'num_local_experts'])",
            ),
            reason=(
                "The file routes over its 128 local experts (EP=1 form, tagged model:qwen3-next-80b-a3b ep:1). Qwen3-Next has "
                "512 experts: with 128 per GPU it serves at EP=4, where the kernel routes each token over all 512 experts "
                "and runs the 128 local ones. Another kernel under the same name: a conflict to report, not a convention."
            ),
        ),
    )
}


def departure_for(name: str) -> Departure | None:
    return DEPARTURES.get(name)


# ------------------------------------------------------------------ signatures


def signature_facts(definition: dict[str, Any]) -> dict[str, Any]:
    """The signature of a definition as `evals/ground_truth/signatures.json` records it:
    op type, axes in order (constants with their value, others "var"), inputs and
    outputs in order with shape and dtype, constraints."""

    def tensors(specs: dict[str, Any]) -> dict[str, Any]:
        return {name: {"shape": spec.get("shape"), "dtype": spec["dtype"]} for name, spec in specs.items()}

    return {
        "op_type": definition["op_type"],
        "axes": {name: spec["value"] if spec["type"] == "const" else "var" for name, spec in definition["axes"].items()},
        "inputs": tensors(definition["inputs"]),
        "outputs": tensors(definition["outputs"]),
        "constraints": list(definition.get("constraints") or []),
    }


def signature_differences(ours: dict[str, Any], official: dict[str, Any], *, other: str = "official") -> list[str]:
    """How signature facts `ours` differ from `official`, one line each; empty when equal.
    `other` names the reference in the lines (`official`, or `dataset's` for any dataset).

    Names, values, shapes, dtypes and constraints are compared, and the order of axes,
    inputs and outputs: the benchmark calls `run(*inputs)` in input order, and an axis
    order that differs is a file that differs."""
    diffs = []
    if ours["op_type"] != official["op_type"]:
        diffs.append(f"op_type {ours['op_type']} ({other} {official['op_type']})")
    diffs += _named_differences("axis", ours["axes"], official["axes"], other)
    for role, label in (("inputs", "input"), ("outputs", "output")):
        diffs += _named_differences(label, ours[role], official[role], other)
    if list(ours.get("constraints") or []) != list(official.get("constraints") or []):
        diffs.append(f"constraints {list(ours.get('constraints') or [])} ({other} {list(official.get('constraints') or [])})")
    return diffs


def _named_differences(label: str, ours: dict[str, Any], official: dict[str, Any], other: str) -> list[str]:
    diffs = []
    for name, value in ours.items():
        if name not in official:
            shown = f" ({value})" if label == "axis" else ""
            diffs.append(f"{label} {name}{shown} not in the {other} file")
    for name, value in official.items():
        if name not in ours:
            shown = f" ({value})" if label == "axis" else ""
            diffs.append(f"{label} {name}{shown} missing")
    for name in (n for n in ours if n in official):
        mine, theirs = ours[name], official[name]
        if label == "axis":
            if mine != theirs:
                diffs.append(f"axis {name} {mine} ({other} {theirs})")
            continue
        for key in ("shape", "dtype"):
            if mine[key] != theirs[key]:
                diffs.append(f"{label} {name} {key} {mine[key]} ({other} {theirs[key]})")
    common_ours = [n for n in ours if n in official]
    common_official = [n for n in official if n in ours]
    if common_ours != common_official:
        diffs.append(f"{label} order {list(ours)} ({other} {list(official)})")
    return diffs
