"""Run-time dependencies of the graph: never checkpointed, the same for a whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.progress import Progress
from tools.model_parser.source_index import SourceIndex
from tools.source_locator import SglangSource
from tools.verification.sandbox import SandboxLimits


@dataclass
class AgentContext:
    progress: Progress = field(default_factory=Progress)
    cache_dir: Path | None = None
    """Where downloaded SGLang sources are kept (default: the user cache)."""
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)
    llm: Any = None
    """An `agent.llm.LLMClient`, or None when no endpoint is configured."""
    max_repair_attempts: int = 3
    _indexes: dict[str, SourceIndex] = field(default_factory=dict)

    def source_index(self, source: SglangSource) -> SourceIndex:
        """Parsed SGLang modules, shared by every node and profile of the run."""
        key = str(source.root)
        if key not in self._indexes:
            self._indexes[key] = SourceIndex(source)
        return self._indexes[key]
