"""The extraction graph's state: what each node reads and returns.

Everything here is plain data (pydantic models), so a run can be checkpointed after
every node and resumed. Clients, paths and limits that never change during a run live
in `context.py` instead.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.dedup_store import StoreDecision
from tools.kernel_spec import KernelSpec, PendingKernel, SkippedComponent, Stage
from tools.model_parser.inventory import Inventory
from tools.model_registry.resolver import ResolvedModel
from tools.source_locator import SglangSource


class ExtractRequest(BaseModel):
    """What the user asked for: the graph's public input."""

    model_name: str
    """A model name (`llama`, `kimi`), slug, alias or Hugging Face repo id."""
    config_path: str | None = None
    """An HF config.json to use instead of the catalog's."""
    tp: list[int] | None = None
    """Tensor-parallel sizes; default: the model's serving profile."""
    ep: list[int] | None = None
    """Expert-parallel sizes; default: the model's serving profile."""
    page_sizes: list[int] | None = None
    stages: list[Stage] = Field(default_factory=lambda: ["prefill", "decode"])
    include_quantized: bool = False
    deduplicate: bool = True
    """Add the model's tags to identical existing definitions (otherwise leave them untouched)."""
    output_root: str = "flashinfer_trace"
    """Dataset root: definitions go to `<output_root>/definitions/{op_type}/{name}.json`."""
    dry_run: bool = False
    sglang_path: str | None = None
    sglang_version: str | None = None
    allow_download: bool = True
    report_path: str | None = None
    """Where to write the JSON report; default `<output_root>/reports/extract-<model>-<time>.json`."""
    verify: Literal["auto", "cpu", "none"] = "auto"
    """How to check references before committing: on the CPU (`auto`/`cpu`) or not at all."""


TaskStatus = Literal[
    "planned",  # built from a template, not yet looked up in the store
    "exists",  # the store already has it (same name and signature)
    "drafted",  # a definition waiting for verification
    "passed",  # verified (or checked) and ready to commit
    "unchecked",  # too large to check here; committed as unverified
    "failed",  # verification failed and no repair is possible or left
    "needs_llm",  # no template covers it and no LLM endpoint is configured
    "committed",
]


class CheckRecord(BaseModel):
    """One verification attempt of a task's definition."""

    attempt: int
    passed: bool
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)


class KernelTask(BaseModel):
    """One kernel on its way from the plan to the store."""

    id: str
    origin: Literal["template", "llm"]
    spec: KernelSpec | None = None
    pending: PendingKernel | None = None
    definition: dict[str, Any] | None = None
    status: TaskStatus = "planned"
    attempts: int = 0
    checks: list[CheckRecord] = Field(default_factory=list)
    decision: StoreDecision | None = None
    note: str | None = None

    @property
    def name(self) -> str:
        return self.definition["name"] if self.definition else self.id


class ExtractionState(BaseModel):
    request: ExtractRequest
    sglang: SglangSource | None = None
    model: ResolvedModel | None = None
    inventories: list[Inventory] = Field(default_factory=list)
    skipped: list[SkippedComponent] = Field(default_factory=list)
    conditional: list[str] = Field(default_factory=list)
    tasks: list[KernelTask] = Field(default_factory=list)
    report_path: str | None = None
    timings: dict[str, float] = Field(default_factory=dict)
