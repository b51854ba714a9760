"""The H200 session's verdicts, per model and for the official dataset, as a Markdown table.

Reads every verification report under DIR/verification/ (a later report's verdict for a
name replaces an earlier one: the session's second call re-verifies GDN and KDA with the
CuTe DSL), the definitions' `model:` tags, and DIR/official-names.txt (written by
`benchmarks/make_h200_dataset.sh`: the names that were official files before the models
were extracted into the copy).

    python benchmarks/summarize_verification.py --dataset build/gpu-dataset --models kimi-k2,deepseek-v3 [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

VERDICTS = ("verified", "failed", "unverifiable")


def latest_results(dataset: Path) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for report in sorted((dataset / "verification").glob("*.json")):
        for result in json.loads(report.read_text()).get("results", []):
            results[result["name"]] = result
    return results


def model_tags(dataset: Path) -> dict[str, set[str]]:
    tags = {}
    for path in (dataset / "definitions").glob("*/*.json"):
        data = json.loads(path.read_text())
        tags[data["name"]] = {t.split(":", 1)[1] for t in data.get("tags", []) if t.startswith("model:")}
    return tags


def section(title: str, names: list[str], results: dict[str, dict[str, Any]]) -> list[str]:
    counts = Counter(results[n].get("verdict") or "not run" for n in names if n in results)
    missing = [n for n in names if n not in results]
    head = ", ".join(f"{counts[v]} {v}" for v in VERDICTS) + (f", {len(missing)} not verified in this session" if missing else "")
    lines = [f"## {title}", "", f"{len(names)} definitions: {head}.", "", "| definition | verdict | API used | FlashInfer checked / reason |", "| --- | --- | --- | --- |"]
    for name in sorted(names):
        result = results.get(name)
        if result is None:
            lines.append(f"| {name} | not run | | |")
            continue
        detail = result.get("checked") or ""
        if result.get("verdict") != "verified":
            detail = result.get("summary", "")
        if result.get("status_note"):
            detail += f" ({result['status_note']})"
        lines.append(f"| {name} | {result.get('verdict')} | {result.get('api_used') or ''} | {detail.replace('|', '/')} |")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", default="", help="comma-separated model slugs")
    parser.add_argument("--out", help="write the Markdown here (default: stdout)")
    args = parser.parse_args()
    dataset = Path(args.dataset)
    results = latest_results(dataset)
    tags = model_tags(dataset)
    official_file = dataset / "official-names.txt"
    official = official_file.read_text().split() if official_file.exists() else []
    lines = ["# Verification on the H200", ""]
    overall = Counter(r.get("verdict") for r in results.values())
    lines += ["All definitions verified in this session: " + ", ".join(f"{overall[v]} {v}" for v in VERDICTS) + ".", ""]
    if official:
        lines += section("The official dataset (flashinfer-bench@e489a246)", official, results)
    for model in filter(None, args.models.split(",")):
        lines += section(f"model:{model}", [n for n, t in tags.items() if model in t], results)
    text = "\n".join(lines)
    if args.out:
        Path(args.out).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
