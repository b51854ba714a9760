"""The dataset-merge metric: what extracting the models into the real dataset does to it.

The models are extracted one after another, in catalog order, into a dataset holding the
official definitions (`dataset_fixture.py`). A good merge adds definitions and tags and
nothing else. Counted:

- duplicates: definitions written beside one the dataset already has for the same kernel:
  a versioned copy (`x_v2` beside `x`), or a new name with an official definition's exact
  signature, unless a documented departure says why it is another kernel;
- changed: official files changed in any way other than added `model:`/`tp:`/`ep:` tags;
- tagged: official files that gained tags only;
- conflicts: planned definitions whose name the dataset uses for another kernel (reported
  by the extraction and not written).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tools.dataset_conventions import DEPARTURES
from tools.dedup_store import signature

ADDED_TAG = re.compile(r"(model|tp|ep):\S+")


class MergeScore(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    models: int
    """Models extracted into the dataset."""
    official: int
    """Definitions in the dataset before the merge."""
    new: int = 0
    """Definitions the merge added."""
    duplicates: list[str] = Field(default_factory=list)
    """Added definitions that repeat a kernel the dataset had, each with what it repeats."""
    changed: list[str] = Field(default_factory=list)
    """Official files changed beyond added model:/tp:/ep: tags."""
    tagged: int = 0
    """Official files that gained tags only."""
    conflicts: list[str] = Field(default_factory=list)
    """`name (model): what differs`, for each planned definition reported as a conflict."""


def tags_added_only(before: str, after: str) -> list[str] | None:
    """The tags `after` adds to `before`, if that is its only change (None otherwise)."""
    old, new = json.loads(before), json.loads(after)
    if list(new) != list(old) or any(new[k] != old[k] for k in old if k != "tags"):
        return None
    old_tags, new_tags = old.get("tags", []), new.get("tags", [])
    if [t for t in new_tags if t in old_tags] != old_tags or len(set(new_tags)) != len(new_tags):
        return None
    added = [t for t in new_tags if t not in old_tags]
    return added if all(ADDED_TAG.fullmatch(t) for t in added) else None


def score_merge(before: dict[str, str], after: dict[str, str], *, models: int, conflicts: list[str]) -> MergeScore:
    """Compare the dataset's definition files (by relative path) before and after the merge."""
    score = MergeScore(models=models, official=len(before), conflicts=conflicts)
    for path, text in before.items():
        if path not in after:
            score.changed.append(f"{path}: removed")
        elif after[path] != text:
            added = tags_added_only(text, after[path])
            if added is None:
                score.changed.append(path)
            else:
                score.tagged += 1
    official = {Path(p).stem: json.loads(t) for p, t in before.items()}
    by_signature = {signature(d): name for name, d in official.items()}
    departed = {d.written_instead for d in DEPARTURES.values() if d.written_instead}
    for path in sorted(set(after) - set(before)):
        score.new += 1
        name = Path(path).stem
        versioned = re.fullmatch(r"(.+)_v\d+", name)
        if versioned and versioned.group(1) in official:
            score.duplicates.append(f"{name}: a versioned copy of {versioned.group(1)}")
            continue
        twin = by_signature.get(signature(json.loads(after[path])))
        if twin is not None and name not in departed:
            score.duplicates.append(f"{name}: the signature of {twin}")
    return score


def snapshot(root: Path) -> dict[str, str]:
    """Every definition file under `root`, by path relative to it."""
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted((Path(root) / "definitions").glob("*/*.json"))}
