"""The dataset layout flashinfer-bench's validator reads, as path rules.

`flashinfer_bench/data/validate.py` (`_scan_dataset`) accepts exactly these paths and
skips every other one silently, so a file a pull request adds anywhere else is invisible
to the dataset's own checks. `layout_problems` names the paths that break a rule.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_NAME = r"[A-Za-z0-9_.\-]+"
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("definition", re.compile(rf"^definitions/(?P<op>{_NAME})/(?P<name>{_NAME})\.json$")),
    ("reference test", re.compile(rf"^tests/references/test_(?P<name>{_NAME})\.py$")),
    ("solution", re.compile(rf"^solutions/(?P<author>{_NAME})/(?P<op>{_NAME})/(?P<name>{_NAME})/(?P<solution>{_NAME})\.json$")),
    ("workload", re.compile(rf"^workloads/(?P<op>{_NAME})/(?P<name>{_NAME})\.jsonl$")),
    ("blob", re.compile(rf"^blob/workloads/(?P<op>{_NAME})/(?P<name>{_NAME})/{_NAME}\.safetensors$")),
    ("trace", re.compile(rf"^traces/(?P<author>{_NAME})/(?P<op>{_NAME})/(?P<name>{_NAME})\.jsonl$")),
    # The GitHub half of a pull-request pair changes the coverage table only.
    ("coverage", re.compile(r"^docs/model_coverage\.mdx$")),
)


def classify(path: str) -> tuple[str, dict[str, str]] | None:
    """(kind, named parts) of a dataset path, or None when the validator would skip it."""
    if PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts:
        return None
    for kind, pattern in _RULES:
        match = pattern.match(path)
        if match:
            return kind, match.groupdict()
    return None


def definition_path(op_type: str, name: str) -> str:
    return f"definitions/{op_type}/{name}.json"


def reference_test_path(name: str) -> str:
    return f"tests/references/test_{name}.py"


DATASET_KINDS = ("definition", "reference test", "solution", "workload", "blob", "trace")
"""What a dataset pull request may carry (the coverage table lives in flashinfer-bench)."""


def layout_problems(paths: list[str], kinds: tuple[str, ...] = DATASET_KINDS) -> list[str]:
    """Why each path would be skipped by the validator or does not belong ([] when all are fine)."""
    problems = []
    for path in paths:
        found = classify(path)
        if found is None:
            problems.append(f"{path}: not a path flashinfer-bench's validator reads")
        elif found[0] not in kinds:
            problems.append(f"{path}: a {found[0]} file does not belong in this pull request")
    return problems
