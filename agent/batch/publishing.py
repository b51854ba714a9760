"""Bundles to the backends, in the dataset's order: the dataset pull request first, then
the GitHub pull request that marks the coverage rows and links it.

The state is saved after every backend step. Every backend looks its pull request up
before opening one (`tools.publish.publisher.publish`), so a run killed between "opened"
and "saved" finds it again instead of opening a second. A refused token stops the run;
any other remote failure is recorded on its bundle and the others go on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from agent.batch.planning import PlannedBundle
from agent.progress import Progress
from tools.publish.bundle import Bundle
from tools.publish.coverage import COVERED, PARTIAL, CoverageRow, mark_covered
from tools.publish.github import GitHubPublisher
from tools.publish.pr_text import Provenance, coverage_body, coverage_title, dataset_body, dataset_title
from tools.publish.publisher import Publisher, PublishError, Submission, TokenRefusedError, publish
from tools.publish.state import BatchState, BundleRecord

COVERAGE_DOC = "docs/model_coverage.mdx"


@dataclass
class Backends:
    dataset: list[Publisher]
    """`local` and/or `hf`: where the bundle's own files go."""
    github: GitHubPublisher | None = None


def dataset_submission(planned: PlannedBundle, provenance: Provenance) -> Submission:
    bundle = planned.bundle
    return Submission(
        id=bundle.id,
        key=bundle.key,
        branch=bundle.branch,
        title=dataset_title(bundle),
        body=dataset_body(bundle, provenance),
        files=bundle.files,
        draft=planned.status == "draft",
    )


def coverage_submission(planned: PlannedBundle, provenance: Provenance, github: GitHubPublisher, dataset_urls: list[str]) -> Submission | None:
    """The coverage change for a bundle, or None when the table already says it all."""
    bundle = planned.bundle
    base = github.base_file(COVERAGE_DOC)
    if base is None:
        raise PublishError(f"{github.git.repo} has no {COVERAGE_DOC} on {github.base}.", hint="Point --github-checkout at a clone of flashinfer-bench.")
    text = base.decode()
    updated = text
    for slug in bundle.models:
        info = provenance.models.get(slug)
        names = [slug] + ([info.display_name] if info else [])
        rows = [CoverageRow(name, _op_type(bundle, name), COVERED if _has_traces(bundle, name) else PARTIAL) for name in bundle.definitions]
        updated = mark_covered(updated, names, info.display_name if info else slug, rows)
    if updated == text:
        return None
    body = coverage_body(bundle, provenance, dataset_urls)
    key = hashlib.sha256(updated.encode() + "\n".join(dataset_urls).encode()).hexdigest()[:16]
    return Submission(
        id=f"coverage:{bundle.id}",
        key=key,
        branch=bundle.branch,
        title=coverage_title(bundle, provenance),
        body=body,
        files={COVERAGE_DOC: updated.encode()},
        draft=planned.status == "draft",
    )


def publish_bundles(
    planned: list[PlannedBundle],
    backends: Backends,
    state: BatchState,
    save: Callable[[], None],
    provenance: Provenance,
    progress: Progress,
) -> None:
    eligible = [p for p in planned if p.status in ("ready", "draft")]
    for index, item in enumerate(eligible, 1):
        bundle = item.bundle
        submission = dataset_submission(item, provenance)
        record = state.bundles.get(bundle.id) or BundleRecord(id=bundle.id, key=bundle.key, title=submission.title, branch=bundle.branch)
        record.key, record.title, record.error = bundle.key, submission.title, None
        state.bundles[bundle.id] = record
        try:
            for publisher in backends.dataset:
                _step(publisher, submission, record, save, progress, index, len(eligible))
            if backends.github is not None:
                urls = [record.published["hf"].url] if "hf" in record.published else []
                coverage = coverage_submission(item, provenance, backends.github, urls)
                if coverage is None:
                    record.actions["github"] = "coverage_unchanged"
                    save()
                else:
                    _step(backends.github, coverage, record, save, progress, index, len(eligible))
        except TokenRefusedError:
            save()
            raise
        except PublishError as exc:
            record.error = exc.message
            save()
            progress.warn(f"{bundle.id}: {exc.message}")


def _step(publisher: Publisher, submission: Submission, record: BundleRecord, save: Callable[[], None], progress: Progress, index: int, total: int) -> None:
    outcome = publish(publisher, submission)
    record.published[publisher.name] = outcome.pull_request
    record.actions[publisher.name] = outcome.action
    save()
    progress.item("publish", index, total, f"{publisher.name}: {submission.id} {outcome.action.replace('_', ' ')} {outcome.pull_request.url}")


def _op_type(bundle: Bundle, name: str) -> str:
    return next(p.split("/")[1] for p in bundle.files if p.startswith("definitions/") and p.endswith(f"/{name}.json"))


def _has_traces(bundle: Bundle, name: str) -> bool:
    """✅ in the coverage legend: workloads collected (and traced), not just a definition."""
    return any(p.startswith("workloads/") and p.endswith(f"/{name}.jsonl") for p in bundle.files) and any(
        p.startswith("traces/") and p.endswith(f"/{name}.jsonl") for p in bundle.files
    )
