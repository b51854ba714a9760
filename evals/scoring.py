"""Metrics for one model's extraction against its ground truth: pure functions.

The input is `ModelRun` (what the pipeline produced, as plain data, see runner.py); the
output is `ModelScore`: name precision and recall, signature results for every expected
definition the official dataset has (no exemptions: only documented departures are
counted apart), CPU reference-check counts, LLM usage and wall time, with every mismatch
spelled out so a score can be debugged from the report alone.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from evals.truth import ModelTruth, Signature
from tools.dataset_conventions import departure_for, signature_facts
from tools.dataset_conventions import signature_differences as conventions_signature_differences

CheckOutcome = Literal["passed", "failed", "skipped"]


class _Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


class ExtractedDefinition(_Model):
    """One definition the pipeline produced (template-built or LLM-drafted)."""

    name: str
    definition: dict[str, Any]
    origin: Literal["template", "llm"]
    components: list[str] = Field(default_factory=list)
    """Inventory paths that run the kernel: where an unexpected name comes from."""
    check: CheckOutcome | None = None
    """The last reference check: passed, failed, skipped (too large here), or None when none ran."""
    check_summary: str | None = None
    attempts: int = 0
    """Verification attempts (drafts plus repairs, for LLM definitions)."""
    tokens: int | None = None
    """LLM tokens spent on this definition, when the pipeline reports them."""


class ModelRun(_Model):
    """What one extraction produced, independent of the agent's internal state types."""

    model: str
    tp: list[int]
    ep: list[int]
    seconds: float
    """Wall time of the extraction (graph invocation)."""
    sglang_version: str | None = None
    definitions: list[ExtractedDefinition] = Field(default_factory=list)
    pending: list[str] = Field(default_factory=list)
    """Components left for an LLM, each as 'path — reason'."""
    error: str | None = None
    """Set when the extraction stopped with a user-facing error."""


class MissingName(_Model):
    name: str
    source: str = ""
    """Why the name is expected (from the ground truth; not kept in the history)."""
    closest: str | None = None
    """The most similar produced name, often the same kernel at another shape."""


class ExtraName(_Model):
    name: str
    components: list[str] = Field(default_factory=list)


def _rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to rate (not 0%: nothing was measured)."""
    return part / whole if whole else None


class NameScore(_Model):
    expected: int
    hits: int
    scored_produced: int
    """Produced names that count for precision (unexpected names matching an unscored pattern do not)."""
    missing: list[MissingName] = Field(default_factory=list)
    extra: list[ExtraName] = Field(default_factory=list)
    unscored: list[str] = Field(default_factory=list)

    @computed_field
    @property
    def recall(self) -> float | None:
        return _rate(self.hits, self.expected)

    @computed_field
    @property
    def precision(self) -> float | None:
        return _rate(self.hits, self.scored_produced)


class SignatureResult(_Model):
    name: str
    produced: bool
    differences: list[str] = Field(default_factory=list)
    """Every difference from the official signature."""
    departure: str | None = None
    """When the differences are a documented deliberate departure from the dataset
    (tools/dataset_conventions.py DEPARTURES): what it is. Counted apart, not as a match."""

    @computed_field
    @property
    def matched(self) -> bool:
        return self.produced and not self.differences

    @computed_field
    @property
    def departed(self) -> bool:
        return self.produced and bool(self.differences) and self.departure is not None


class CheckCounts(_Model):
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    """Too large to check on the CPU: left for GPU verification."""
    failures: list[str] = Field(default_factory=list)
    """'name: first problem' for each failed check."""

    @computed_field
    @property
    def pass_rate(self) -> float | None:
        return _rate(self.passed, self.passed + self.failed)


class LlmUsage(_Model):
    kernels: int = 0
    """Definitions the LLM drafted."""
    attempts: int = 0
    tokens: int | None = None
    """None when the pipeline reported no token counts."""

    @computed_field
    @property
    def attempts_per_kernel(self) -> float | None:
        return _rate(self.attempts, self.kernels)

    @computed_field
    @property
    def tokens_per_kernel(self) -> float | None:
        return _rate(self.tokens, self.kernels) if self.tokens is not None else None


class ModelScore(_Model):
    model: str
    family: str
    tp: list[int]
    ep: list[int]
    seconds: float
    names: NameScore
    signatures: list[SignatureResult] = Field(default_factory=list)
    checks: CheckCounts = Field(default_factory=CheckCounts)
    llm: LlmUsage = Field(default_factory=LlmUsage)
    pending: list[str] = Field(default_factory=list)
    error: str | None = None

    @computed_field
    @property
    def signatures_matched(self) -> int:
        return sum(s.matched for s in self.signatures)

    @computed_field
    @property
    def signatures_checked(self) -> int:
        """Official signatures whose definition was produced (a missing one is a recall miss)."""
        return sum(s.produced for s in self.signatures)

    @computed_field
    @property
    def signatures_departed(self) -> int:
        """Checked signatures that differ by a documented departure."""
        return sum(s.departed for s in self.signatures)


def score_names(truth: ModelTruth, produced: dict[str, list[str]]) -> NameScore:
    """Compare produced names (with the components behind each) with the expected set."""
    expected = truth.expected_names
    hits = expected & produced.keys()
    unexpected = sorted(produced.keys() - expected)
    unscored = [n for n in unexpected if truth.unscored_reason(n)]
    extra = [ExtraName(name=n, components=produced[n]) for n in unexpected if n not in unscored]
    missing = [
        MissingName(name=n, source=truth.source_of(n) or "", closest=_closest(n, list(produced)))
        for n in sorted(expected - produced.keys())
    ]
    return NameScore(expected=len(expected), hits=len(hits), scored_produced=len(hits) + len(extra), missing=missing, extra=extra, unscored=unscored)


def _closest(name: str, candidates: list[str]) -> str | None:
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def signature_differences(expected: Signature, definition: dict[str, Any]) -> list[str]:
    """How `definition` differs from the official signature, one line per difference, in the
    words `tools.dataset_conventions.signature_differences` uses (order of axes, inputs and
    outputs included: the benchmark calls run(*inputs))."""
    official = expected.model_dump(include={"op_type", "axes", "inputs", "outputs", "constraints"})
    ours = signature_facts(definition)
    if not expected.tags:
        # Entries sampled from commits after the snapshot were transcribed without constraints.
        official["constraints"] = ours["constraints"]
    return conventions_signature_differences(ours, official)


def score_signatures(truth: ModelTruth, signatures: dict[str, Signature], definitions: dict[str, dict[str, Any]]) -> list[SignatureResult]:
    """Every expected name with an official signature, and the sampled ones, against it."""
    names = sorted(
        n
        for n in {n for n in truth.expected_names if n in signatures} | set(truth.signatures)
        if n not in signatures or not signatures[n].models or truth.model in signatures[n].models
    )
    results = []
    for name in names:
        definition = definitions.get(name)
        if definition is None:
            results.append(SignatureResult(name=name, produced=False))
            continue
        differences = signature_differences(signatures[name], definition)
        departure = departure_for(name)
        # A departure explains exactly the differences it lists, nothing more.
        departed = departure is not None and differences and tuple(differences) == departure.differences
        results.append(SignatureResult(name=name, produced=True, differences=differences, departure=departure.reason if departed else None))
    return results


def count_checks(definitions: list[ExtractedDefinition]) -> CheckCounts:
    counts = CheckCounts()
    for item in definitions:
        if item.check == "passed":
            counts.passed += 1
        elif item.check == "failed":
            counts.failed += 1
            counts.failures.append(f"{item.name}: {item.check_summary}")
        elif item.check == "skipped":
            counts.skipped += 1
    return counts


def llm_usage(definitions: list[ExtractedDefinition]) -> LlmUsage:
    drafted = [d for d in definitions if d.origin == "llm"]
    reported = [d.tokens for d in drafted if d.tokens is not None]
    return LlmUsage(kernels=len(drafted), attempts=sum(d.attempts for d in drafted), tokens=sum(reported) if reported else None)


def score_model(truth: ModelTruth, signatures: dict[str, Signature], run: ModelRun) -> ModelScore:
    produced: dict[str, list[str]] = {}
    for item in run.definitions:
        components = produced.setdefault(item.name, [])
        components += [c for c in item.components if c not in components]
    return ModelScore(
        model=truth.model,
        family=truth.family,
        tp=run.tp,
        ep=run.ep,
        seconds=run.seconds,
        names=score_names(truth, produced),
        signatures=score_signatures(truth, signatures, {d.name: d.definition for d in run.definitions}),
        checks=count_checks(run.definitions),
        llm=llm_usage(run.definitions),
        pending=run.pending,
        error=run.error,
    )


class Totals(_Model):
    """Sums over models: micro-averaged rates weigh every expected name equally."""

    models: int = 0
    errors: int = 0
    expected: int = 0
    hits: int = 0
    scored_produced: int = 0
    signatures_matched: int = 0
    signatures_checked: int = 0
    signatures_departed: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    checks_skipped: int = 0
    pending: int = 0
    llm_kernels: int = 0
    llm_attempts: int = 0
    llm_tokens: int | None = None
    seconds: float = 0.0

    @computed_field
    @property
    def recall(self) -> float | None:
        return _rate(self.hits, self.expected)

    @computed_field
    @property
    def precision(self) -> float | None:
        return _rate(self.hits, self.scored_produced)

    @computed_field
    @property
    def signature_accuracy(self) -> float | None:
        return _rate(self.signatures_matched, self.signatures_checked)

    @computed_field
    @property
    def reference_pass_rate(self) -> float | None:
        return _rate(self.checks_passed, self.checks_passed + self.checks_failed)


def summarize(scores: list[ModelScore]) -> Totals:
    tokens = [s.llm.tokens for s in scores if s.llm.tokens is not None]
    return Totals(
        models=len(scores),
        errors=sum(s.error is not None for s in scores),
        expected=sum(s.names.expected for s in scores),
        hits=sum(s.names.hits for s in scores),
        scored_produced=sum(s.names.scored_produced for s in scores),
        signatures_matched=sum(s.signatures_matched for s in scores),
        signatures_checked=sum(s.signatures_checked for s in scores),
        signatures_departed=sum(s.signatures_departed for s in scores),
        checks_passed=sum(s.checks.passed for s in scores),
        checks_failed=sum(s.checks.failed for s in scores),
        checks_skipped=sum(s.checks.skipped for s in scores),
        pending=sum(len(s.pending) for s in scores),
        llm_kernels=sum(s.llm.kernels for s in scores),
        llm_attempts=sum(s.llm.attempts for s in scores),
        llm_tokens=sum(tokens) if tokens else None,
        seconds=sum(s.seconds for s in scores),
    )
