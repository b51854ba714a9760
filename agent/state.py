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
    "needs_llm",  # no template covers it: waiting for an LLM draft (pending without an endpoint)
    "committed",
]


class CheckRecord(BaseModel):
    """One verification attempt of a task's definition."""

    attempt: int
    passed: bool
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
    report: str | None = None
    """The failure as the repair prompt quotes it (`describe_failure`), when it failed."""


class TokenUsage(BaseModel):
    """What LLM requests cost: tokens, and USD when a price is configured."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    """None when no price per token is configured."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        costs = [c for c in (self.cost_usd, other.cost_usd) if c is not None]
        return TokenUsage(
            requests=self.requests + other.requests,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=sum(costs) if costs else None,
        )


class KernelTask(BaseModel):
    """One kernel on its way from the plan to the store."""

    id: str
    origin: Literal["template", "llm"]
    spec: KernelSpec | None = None
    pending: PendingKernel | None = None
    definition: dict[str, Any] | None = None
    status: TaskStatus = "planned"
    attempts: int = 0
    """LLM drafts made for this kernel (0 for template definitions)."""
    checks: list[CheckRecord] = Field(default_factory=list)
    decision: StoreDecision | None = None
    note: str | None = None
    same_kernel: list[PendingKernel] = Field(default_factory=list)
    """Other components that construct the same class with the same parameters: they run
    the same kernel, so it is drafted once for all of them."""
    tp: int | None = None
    """Tensor-parallel size of the profile a pending component was found at."""
    ep: int | None = None
    """Expert-parallel size of that profile."""
    llm_usage: TokenUsage = Field(default_factory=TokenUsage)
    """Every LLM request made for this kernel."""
    last_reply: str | None = None
    """The LLM's latest reply, quoted back to it when asking for a repair."""

    @property
    def components(self) -> list[str]:
        if self.spec is not None:
            return self.spec.components
        return [p.path for p in ([self.pending] if self.pending else []) + self.same_kernel]

    @property
    def name(self) -> str:
        """The definition's name; before there is one, the component's path."""
        if self.definition:
            return self.definition["name"]
        return self.pending.path if self.pending else self.id


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
    dataset_tagged: list[str] = Field(default_factory=list)
    """Definitions the target dataset already tags for this model (under its slug or an alias)."""
    llm_stopped: str | None = None
    """Why the LLM stage stopped early (endpoint down, key refused, token budget spent):
    kernels not drafted by then stay pending."""
