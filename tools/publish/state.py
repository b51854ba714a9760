"""The batch state file: what a run has extracted, verified and published.

`<dataset>/.agent/batch/<run>/state.json`, rewritten atomically after every step (a
temporary file renamed into place), so a kill at any point leaves the previous complete
state. It is a record, not the authority on what exists remotely: publishers look
pull requests up by their marker before opening one, which heals a crash between
"pull request created" and "state saved".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.dedup_store import write_json_atomic
from tools.errors import OutputError
from tools.publish.publisher import PullRequest

STATE_VERSION = 1


class ModelRecord(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    slug: str
    status: Literal["extracted", "failed"]
    outcome: dict[str, Any] = Field(default_factory=dict)
    """The extraction's outcome (`agent.batch.extraction.ModelOutcome`), as JSON."""


class Verdict(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    name: str
    verified: bool
    """`status:verified` earned in this run: compared against FlashInfer on a GPU and agreed."""
    summary: str
    baseline_solution: str | None = None


class BundleRecord(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    key: str
    title: str
    branch: str
    published: dict[str, PullRequest] = Field(default_factory=dict)
    """By backend (`local`, `hf`, `github`): the pull request that carries the bundle."""
    actions: dict[str, str] = Field(default_factory=dict)
    """By backend: what this run did (created, updated, up_to_date, left_closed)."""
    error: str | None = None


class BatchState(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    version: int = STATE_VERSION
    request: dict[str, Any] = Field(default_factory=dict)
    """The options the run was started with; `--resume` refuses a different request."""
    models: dict[str, ModelRecord] = Field(default_factory=dict)
    verification_done: bool = False
    environment: dict[str, Any] | None = None
    """Where the verdicts were reached (`tools.verification.environment.Environment`); None when no comparison ran."""
    verdicts: dict[str, Verdict] = Field(default_factory=dict)
    bundles: dict[str, BundleRecord] = Field(default_factory=dict)


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> BatchState | None:
        if not self.path.exists():
            return None
        try:
            return BatchState.model_validate(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise OutputError(f"Cannot read the batch state {self.path}: {exc}", hint="Delete it to start the run afresh (remote pull requests are found again by their markers).") from exc

    def save(self, state: BatchState) -> None:
        write_json_atomic(self.path, state.model_dump(mode="json"))
