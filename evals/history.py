"""Eval history: one JSON line per run, with the commit it measured, so scores can be
followed over time and a drop traced to the change that caused it."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.merge import MergeScore
from evals.scoring import ModelScore, Totals
from tools.errors import ExtractionError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class GitState(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    commit: str | None = None
    """HEAD of the checkout that ran the eval; None outside a git repository."""
    dirty: bool | None = None
    """Tracked files differ from HEAD (as `git describe --dirty`), not counting the eval's own outputs."""


class EvalRecord(BaseModel):
    """One eval run: what was measured, on which code, and the scores."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    time: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    git: GitState = Field(default_factory=GitState)
    sglang_version: str | None = None
    options: dict[str, str | bool | None] = Field(default_factory=dict)
    """How the extraction ran (verify mode, LLM on or off)."""
    set: Literal["catalog", "holdout"] = "catalog"
    """Which ground truth: the catalog's models, or the holdout of models outside it."""
    totals: Totals
    scores: list[ModelScore]
    merge: MergeScore | None = None
    """The models extracted into the official definitions (None when that pass was skipped)."""

    @property
    def label(self) -> str:
        commit = (self.git.commit or "no-git")[:8]
        return commit + ("+dirty" if self.git.dirty else "")


def git_state(repo: Path = PROJECT_ROOT, *, ignore: list[Path] = ()) -> GitState:
    """The commit `repo` is at and whether it has uncommitted changes outside `ignore`."""
    try:
        commit = _git(repo, "rev-parse", "HEAD").strip()
        excludes = [f":(exclude){_relative(path, repo)}" for path in ignore if _relative(path, repo)]
        status = _git(repo, "status", "--porcelain", "--untracked-files=no", "--", ".", *excludes)
    except (OSError, subprocess.CalledProcessError):
        return GitState()
    return GitState(commit=commit, dirty=bool(status.strip()))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _relative(path: Path, repo: Path) -> str | None:
    try:
        return str(Path(path).resolve().relative_to(Path(repo).resolve()))
    except ValueError:
        return None  # outside the repository: cannot make it dirty


# The report keeps the long explanations of the latest run; the history keeps what a
# trend or a diff between two runs needs (names, counts), so it stays small per line.
_NOT_IN_HISTORY = {"scores": {"__all__": {"pending": True, "names": {"missing": {"__all__": {"source"}}}}}}


def append_record(path: Path, record: EvalRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(record.model_dump_json(exclude=_NOT_IN_HISTORY) + "\n")


def load_records(path: Path) -> list[EvalRecord]:
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(EvalRecord.model_validate_json(line))
        except ValidationError as exc:
            raise ExtractionError(
                f"{path}:{number} is not an eval record: {exc.errors()[0]['msg']}.",
                hint="Each line of the history file is one `agent eval` run; fix or remove that line.",
            ) from exc
    return records
