"""The new definitions of every model, merged into one candidate store and verified once.

Two models may both bring the same new definition: it is one candidate, tagged with
both models. Two models bringing the same name with different signatures is a conflict
between them, and neither is proposed. The candidates are verified by the same gate as
`agent verify` (`tools.verification.gate.run_verification`), in `<run>/candidates/`,
which keeps its log (`verification/log.jsonl`) and baseline solutions. A definition is
eligible for a pull request only if *this* run's verdict is `verified`: the tag alone
might come from anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.batch.extraction import ModelOutcome
from agent.progress import Progress
from tools import naming
from tools.dedup_store import DefinitionStore, signature, write_json_atomic
from tools.publish.state import Verdict
from tools.verification.run_log import VerificationRun

MERGED_TAG_PREFIXES = (naming.MODEL_TAG_PREFIX, "tp:", "ep:")
VerifyMode = Literal["auto", "cpu", "none"]


@dataclass
class Candidate:
    name: str
    op_type: str
    definition: dict[str, Any]
    models: list[str] = field(default_factory=list)
    conflict: str | None = None
    """Set when another model planned the same name with another signature."""


def merge_candidates(outcomes: list[ModelOutcome]) -> dict[str, Candidate]:
    """Every `new` definition of the successful models, by name, in model order."""
    candidates: dict[str, Candidate] = {}
    for outcome in outcomes:
        for entry in outcome.of("new"):
            definition = entry.definition if entry.definition is not None else json.loads(Path(entry.path).read_text(encoding="utf-8"))
            known = candidates.get(entry.name)
            if known is None:
                candidates[entry.name] = Candidate(entry.name, entry.op_type, definition, [outcome.slug])
                continue
            if signature(known.definition) != signature(definition):
                known.conflict = f"{known.models[0]} and {outcome.slug} plan {entry.name} with different signatures"
                continue
            known.models.append(outcome.slug)
            extra = [t for t in definition.get("tags", []) if t.startswith(MERGED_TAG_PREFIXES) and t not in known.definition.get("tags", [])]
            known.definition = {**known.definition, "tags": known.definition.get("tags", []) + extra}
    return candidates


def write_candidates(root: Path, candidates: dict[str, Candidate]) -> DefinitionStore:
    store = DefinitionStore(root)
    for candidate in candidates.values():
        if candidate.conflict is None:
            write_json_atomic(store.path_for(candidate.definition), candidate.definition)
    return store


def verify_candidates(store: DefinitionStore, names: list[str], mode: VerifyMode, progress: Progress) -> tuple[dict[str, Verdict], dict[str, Any] | None]:
    """Verdicts by name (verified only where FlashInfer agreed on a GPU in this run), and
    the environment they hold for (None when no comparison ran)."""
    from tools.verification.environment import probe_environment

    if not names:
        return {}, None
    if mode != "auto":
        why = "--verify none: no verification ran" if mode == "none" else "--verify cpu: CPU checks cannot earn status:verified"
        return {n: Verdict(name=n, verified=False, summary=why) for n in names}, None
    environment = probe_environment()
    if environment.device != "gpu":
        why = "needs a GPU: no CUDA GPU with FlashInfer here, so no FlashInfer comparison ran"
        return {n: Verdict(name=n, verified=False, summary=why) for n in names}, environment.model_dump(mode="json")
    from tools.verification.gate import run_verification
    from tools.verification.run_log import write_run

    definitions = [store.get(n) for n in sorted(names)]
    progress.stage("verify", f"{len(definitions)} new definitions against FlashInfer {environment.flashinfer} on {environment.gpu_name}")
    run = run_verification(store, definitions, environment, selection={"names": sorted(names), "batch": True})
    log = write_run(store.root, run)
    progress.stage("verify", f"verdicts logged in {log}")
    return verdicts_of(run), environment.model_dump(mode="json")


def verdicts_of(run: VerificationRun) -> dict[str, Verdict]:
    """This run's verdicts: verified only where the comparison passed and the gate wrote `verified`."""
    return {
        r.name: Verdict(name=r.name, verified=bool(r.passed and r.status == "verified"), summary=r.summary, baseline_solution=r.baseline_solution)
        for r in run.results
    }
