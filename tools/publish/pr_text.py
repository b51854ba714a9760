"""Titles and bodies of the pull requests, with the provenance a reviewer checks.

The body says where every file comes from: the model(s), the versions (SGLang,
FlashInfer, torch), the GPU, each definition's verification verdict in this run, the
command that reproduces them, and what the bundle does not contain (workloads, unless
the user supplied them). A bundle with an unverified definition is marked 🟡 in its
title and says why.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.publish.bundle import Bundle
from tools.publish.state import Verdict

UNVERIFIED_MARK = "🟡"


class ModelInfo(BaseModel):
    slug: str
    display_name: str
    hf_repo_id: str | None = None
    tp: list[int] = Field(default_factory=list)
    ep: list[int] = Field(default_factory=list)


class Provenance(BaseModel):
    """What every body records."""

    agent_commit: str | None = None
    sglang: str | None = None
    flashinfer: str | None = None
    torch: str | None = None
    gpu: str | None = None
    verify_command: str
    """The command that reproduces the verdicts."""
    models: dict[str, ModelInfo] = Field(default_factory=dict)
    verdicts: dict[str, Verdict] = Field(default_factory=dict)


def dataset_title(bundle: Bundle) -> str:
    if bundle.kind == "tags":
        (model,) = bundle.models
        return f"Tag {len(bundle.definitions)} existing definition{'s' if len(bundle.definitions) > 1 else ''} with model:{model}"
    parts = " + ".join(_contents(bundle))
    if bundle.id.startswith("definition:"):
        title = f"Add {bundle.definitions[0]}: {parts}"
    else:
        title = f"Add {len(bundle.definitions)} definitions for {bundle.models[0]}: {parts}"
    return title if bundle.verified else f"{UNVERIFIED_MARK} [unverified] {title}"


def _contents(bundle: Bundle) -> list[str]:
    """What the bundle carries, in the dataset's words (its title says no more than that)."""
    kinds = [("definitions/", "definition"), ("tests/references/", "reference test"), ("solutions/", "baseline solution"),
             ("workloads/", "workloads"), ("blob/", "blobs"), ("traces/", "traces")]
    return [word for prefix, word in kinds if any(p.startswith(prefix) for p in bundle.files)]


def dataset_body(bundle: Bundle, provenance: Provenance) -> str:
    lines = ["## Summary", ""]
    if bundle.kind == "tags":
        lines.append(f"{_model_line(provenance, bundle.models[0])} runs these existing definitions unchanged; only its `model:` (and `tp:`/`ep:`) tags are added.")
    else:
        lines.append("New definitions extracted from SGLang's implementation of " + ", ".join(_model_line(provenance, m) for m in bundle.models) + ".")
    if not bundle.verified:
        lines += ["", f"{UNVERIFIED_MARK} **Not verified in this run** (proposed anyway with `--allow-unverified`; do not merge before it is):", ""]
        lines += [f"- {reason}" for reason in bundle.unverified_reasons]
    lines += ["", "## Provenance", ""]
    lines += [
        f"- SGLang: {provenance.sglang or 'unknown'}",
        f"- FlashInfer: {provenance.flashinfer or 'not installed'}",
        f"- torch: {provenance.torch or 'unknown'}",
        f"- GPU: {provenance.gpu or 'none (no FlashInfer comparison ran)'}",
        f"- agent: {provenance.agent_commit or 'unknown commit'}",
    ]
    if bundle.kind == "definitions":
        lines += ["", "## Verification", "", "| definition | verdict | summary |", "|---|---|---|"]
        for name in bundle.definitions:
            verdict = provenance.verdicts.get(name)
            word = "verified" if verdict and verdict.verified else "not verified"
            lines.append(f"| `{name}` | {word} | {(verdict.summary if verdict else 'not run').replace('|', '/')} |")
        lines += ["", "Reproduce:", "", f"```bash\n{provenance.verify_command}\n```"]
    lines += ["", "## Files", ""] + [f"- `{path}`" for path in sorted(bundle.files)]
    if bundle.kind == "definitions" and not bundle.has_workloads:
        lines += ["", "## Not included", "", "- Workloads, blobs and traces: none were supplied (`--workloads DIR`); none are synthesised."]
    return "\n".join(lines) + "\n"


def coverage_title(bundle: Bundle, provenance: Provenance) -> str:
    display = _display(provenance, bundle.models[0])
    if len(bundle.definitions) == 1:
        return f"docs: mark {bundle.definitions[0]} as covered for {display}"
    return f"docs: mark {len(bundle.definitions)} definitions as covered for {display}"


def coverage_body(bundle: Bundle, provenance: Provenance, dataset_urls: list[str]) -> str:
    lines = ["## Summary", "", f"Coverage rows for {', '.join(_model_line(provenance, m) for m in bundle.models)}:", ""]
    lines += [f"- `{name}`" for name in bundle.definitions]
    lines += ["", "## Files changed", "", "- `docs/model_coverage.mdx`", "", "## Linked PRs", ""]
    lines += [f"- flashinfer-trace: {url}" for url in dataset_urls] or ["- flashinfer-trace: not opened by this run"]
    return "\n".join(lines) + "\n"


def _display(provenance: Provenance, slug: str) -> str:
    info = provenance.models.get(slug)
    return info.display_name if info else slug


def _model_line(provenance: Provenance, slug: str) -> str:
    info = provenance.models.get(slug)
    if info is None:
        return f"`{slug}`"
    profile = f"tp={','.join(map(str, info.tp))}" + (f", ep={','.join(map(str, info.ep))}" if info.ep and info.ep != [1] else "")
    repo = f" (`{info.hf_repo_id}`)" if info.hf_repo_id else ""
    return f"{info.display_name}{repo} at {profile}"
