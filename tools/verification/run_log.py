"""The verification log next to the dataset: what was verified, where, and what failed.

Every run writes `DIR/verification/<time>.json` (the full reports) and appends one line
to `DIR/verification/log.jsonl` (the environment and each definition's verdict), so the
history of a dataset's statuses can be traced to the machine and versions behind them.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from tools.dedup_store import write_json_atomic
from tools.errors import OutputError
from tools.verification.environment import Environment
from tools.verification.reference_check import ReferenceCheck
from tools.verification.report import Comparison, Verdict


class DefinitionResult(BaseModel):
    """One definition's verdict in one run."""

    name: str
    op_type: str
    passed: bool
    summary: str
    """The first failure, or what passed, in one line; for an unverifiable one, why."""
    verdict: Verdict | None = None
    """`verified` / `failed` / `unverifiable` (GPU runs); None for CPU checks."""
    status: str | None = None
    """The `status:` tag written (`verified` / `unverified`); None when none was written
    (a CPU run, an unverifiable definition, or a status this run may not change)."""
    status_before: str | None = None
    """The `status:` tag the definition had before the run."""
    status_note: str | None = None
    """Why the status was left as it was, when this run's verdict would have changed it."""
    binding: str | None = None
    """The FlashInfer binding compared against."""
    fi_api: str | None = None
    """The definition's `fi_api:` tag."""
    api_used: str | None = None
    """The FlashInfer API the binding calls; differs from `fi_api` for an SM90 stand-in."""
    checked: str | None = None
    """What FlashInfer computed, when not the whole definition."""
    baseline_solution: str | None = None
    """Where the baseline solution was written, for verified definitions."""
    prepare_seconds: float | None = None
    """FlashInfer build (JIT) and first run."""
    seconds: float | None = None
    comparison: Comparison | None = None
    """The full mismatch report (GPU runs)."""
    cpu_check: ReferenceCheck | None = None
    """The CPU check (CPU runs)."""


class VerificationRun(BaseModel):
    started_at: str
    finished_at: str
    mode: Literal["flashinfer", "cpu"]
    """`flashinfer`: compared on a GPU, statuses written; `cpu`: CPU checks only."""
    dataset: str
    selection: dict[str, object] = Field(default_factory=dict)
    """What was asked for: names, model, all."""
    environment: Environment
    results: list[DefinitionResult] = Field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results)

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.results if r.verdict == verdict)


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_run(root: Path, run: VerificationRun) -> Path:
    """Write the run's report and append its summary to the log; returns the report's path."""
    directory = Path(root) / "verification"
    stamp = run.started_at.replace("-", "").replace(":", "")
    path = directory / f"{stamp}.json"
    suffix = 1
    while path.exists():
        suffix += 1
        path = directory / f"{stamp}-{suffix}.json"
    write_json_atomic(path, run.model_dump(mode="json"))
    summary = {
        "report": path.name,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "mode": run.mode,
        "environment": run.environment.model_dump(mode="json"),
        "results": [
            {"name": r.name, "passed": r.passed, "verdict": r.verdict, "status": r.status, "api_used": r.api_used, "summary": r.summary}
            for r in run.results
        ],
    }
    try:
        with open(directory / "log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(summary) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise OutputError(f"Cannot append to {directory / 'log.jsonl'}: {exc.strerror}.") from exc
    return path


def statuses_written(root: Path) -> dict[str, str]:
    """The last `status:` value `agent verify` wrote for each definition, from the log."""
    written: dict[str, str] = {}
    path = Path(root) / "verification" / "log.jsonl"
    if not path.exists():
        return written
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash says nothing
        for result in entry.get("results", []):
            if result.get("status"):
                written[result["name"]] = result["status"]
    return written
