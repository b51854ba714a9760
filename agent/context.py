"""Run-time dependencies of the graph: never checkpointed, the same for a whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.progress import Progress
from tools.model_parser.source_index import SourceIndex
from tools.source_locator import SglangSource
from tools.verification.sandbox import SandboxLimits

if TYPE_CHECKING:  # the openai client is imported only when an endpoint is configured
    from agent.llm import LLMClient


@dataclass
class AgentContext:
    progress: Progress = field(default_factory=Progress)
    cache_dir: Path | None = None
    """Where downloaded SGLang sources are kept (default: the user cache)."""
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    llm: LLMClient | None = None
    """The LLM endpoint, or None when none is configured (kernels without a template stay pending)."""
    _indexes: dict[str, SourceIndex] = field(default_factory=dict)

    @property
    def max_llm_attempts(self) -> int:
        """Drafts per kernel: the first and its repairs."""
        return self.llm.settings.max_attempts if self.llm else 0

    def llm_identity(self) -> dict[str, str | None]:
        """Which model and endpoint drafted, for the report."""
        return {"llm_model": self.llm.settings.model if self.llm else None, "llm_endpoint": self.llm.endpoint if self.llm else None}

    def source_index(self, source: SglangSource) -> SourceIndex:
        """Parsed SGLang modules, shared by every node and profile of the run."""
        key = str(source.root)
        if key not in self._indexes:
            self._indexes[key] = SourceIndex(source)
        return self._indexes[key]
