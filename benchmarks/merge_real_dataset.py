"""Extract every catalog model into a copy of the real flashinfer-trace dataset, and say what changed.

The acceptance check of "the real dataset is the reference": the last snapshot before the
dataset moved to Hugging Face (flashinfer-bench@e489a246 `flashinfer_trace/`) is exported
into a fresh git repository, every catalog model is extracted into it one after another
(catalog order, `--verify none`), and the result is scored as the eval's merge metric does
(`evals/merge.py`): duplicates, official files changed beyond added model:/tp:/ep: tags,
conflicts. `git diff --stat` in the work folder shows the same from git's side.

    python benchmarks/merge_real_dataset.py --flashinfer-bench /path/to/flashinfer-bench [--commit e489a246]

Needs a flashinfer-bench clone (a bare mirror works); it is not part of CI.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evals.merge import score_merge, snapshot  # noqa: E402
from tools.model_registry.catalog import Catalog  # noqa: E402


def export_snapshot(flashinfer_bench: Path, commit: str, work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(flashinfer_bench), "archive", commit, "flashinfer_trace"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "--strip-components=1", "-C", str(work)], input=archive, check=True)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", f"flashinfer_trace at {commit}"]):
        subprocess.run(["git", "-C", str(work), *args], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flashinfer-bench", type=Path, required=True, help="a flashinfer-bench clone or mirror")
    parser.add_argument("--commit", default="e489a246")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "real-dataset", help="where the dataset copy goes (replaced)")
    parser.add_argument("--models", help="comma-separated slugs (default: every catalog model)")
    parser.add_argument("--agent", default=str(REPO / ".venv" / "bin" / "agent"))
    args = parser.parse_args(argv)

    export_snapshot(args.flashinfer_bench, args.commit, args.work)
    before = snapshot(args.work)
    slugs = args.models.split(",") if args.models else [entry.slug for entry in Catalog.load().models]
    conflicts, statuses, started = [], {}, time.monotonic()
    for slug in slugs:
        run = subprocess.run(
            [args.agent, "extract", "--model-name", slug, "--verify", "none", "--output", str(args.work), "--quiet", "--json"],
            capture_output=True,
            text=True,
        )
        statuses[slug] = run.returncode
        if run.returncode not in (0, 3, 4):
            print(f"{slug}: exit {run.returncode}: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ''}", file=sys.stderr)
            continue
        report = json.loads(run.stdout)
        conflicts += [f"{e['name']} ({slug}): " + "; ".join(e["differences"]) for e in report["entries"] if e["outcome"] == "conflict"]
        print(f"{slug}: exit {run.returncode}", file=sys.stderr, flush=True)
    score = score_merge(before, snapshot(args.work), models=len(slugs), conflicts=conflicts)
    diff = subprocess.run(["git", "-C", str(args.work), "diff", "--numstat", "--", "definitions"], capture_output=True, text=True, check=True).stdout
    removed_lines = sum(int(line.split()[1]) for line in diff.splitlines() if line.split()[1].isdigit())
    summary = {
        "snapshot": f"flashinfer-ai/flashinfer-bench@{args.commit}",
        "models": len(slugs),
        "seconds": round(time.monotonic() - started, 1),
        "exit_statuses": statuses,
        "official_definitions": score.official,
        "new_definitions": score.new,
        "duplicates": score.duplicates,
        "official_changed_beyond_tags": score.changed,
        "official_tagged": score.tagged,
        "conflicts_not_written": score.conflicts,
        "git_diff_official_files": len(diff.splitlines()),
        "git_diff_removed_lines": removed_lines,
    }
    (args.work / "merge-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0 if not score.duplicates and not score.changed and removed_lines == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
