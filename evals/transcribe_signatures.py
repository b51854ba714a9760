"""Transcribe the official definitions' signatures into `ground_truth/signatures.json`.

The official dataset cannot be fetched in CI, so the facts the eval and the tests need
are kept here: per definition its op type, axes (in file order; constants with their
value), input and output shapes and dtypes, constraints and tags, with the file and
commit they were read from. Descriptions and reference code are not transcribed.

    python -m evals.transcribe_signatures /path/to/flashinfer-bench e489a246

reads `flashinfer_trace/definitions/*/*.json` at that commit through `git show` (a
bare mirror works) and rewrites the entries for those names; other entries (names
taken from other commits) are kept.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from evals.truth import GROUND_TRUTH_DIR

DEFINITIONS = "flashinfer_trace/definitions"


def transcribe(definition: dict[str, Any], source: str) -> dict[str, Any]:
    """The signature facts of one official definition."""

    def tensors(specs: dict[str, Any]) -> dict[str, Any]:
        return {name: {"shape": spec.get("shape"), "dtype": spec["dtype"]} for name, spec in specs.items()}

    return {
        "source": source,
        "op_type": definition["op_type"],
        "axes": {name: spec["value"] if spec["type"] == "const" else "var" for name, spec in definition["axes"].items()},
        "inputs": tensors(definition["inputs"]),
        "outputs": tensors(definition["outputs"]),
        "constraints": list(definition.get("constraints") or []),
        "tags": list(definition.get("tags") or []),
    }


def read_official(repo: Path, commit: str) -> dict[str, dict[str, Any]]:
    listing = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", commit, DEFINITIONS], check=True, capture_output=True, text=True
    ).stdout.split()
    found = {}
    for path in sorted(p for p in listing if p.endswith(".json")):
        text = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], check=True, capture_output=True, text=True).stdout
        definition = json.loads(text)
        source = f"flashinfer-ai/flashinfer-bench@{commit}:{path} (the last dataset snapshot before the dataset moved to Hugging Face)"
        found[definition["name"]] = transcribe(definition, source)
    return found


def dump(signatures: dict[str, Any]) -> str:
    """JSON with each list of strings and each tensor spec on one line, for readable diffs."""
    text = json.dumps(signatures, indent=2)
    text = _STRING_LIST.sub(lambda m: json.dumps(json.loads(m.group(0))), text)
    text = _TENSOR.sub(r"{\1, \2}", text)
    return text + "\n"


_STRING_LIST = re.compile(r'\[\s*"[^"]*"(?:,\s*"[^"]*")*\s*\]')
_TENSOR = re.compile(r'\{\s*("shape": [^\n]*),\s*("dtype": "[^"]*")\s*\}')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path, help="a flashinfer-bench git checkout or mirror")
    parser.add_argument("commit", help="the commit to read, e.g. e489a246")
    parser.add_argument("--out", type=Path, default=GROUND_TRUTH_DIR / "signatures.json")
    args = parser.parse_args(argv)
    existing = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    official = read_official(args.repo, args.commit)
    merged = {**existing, **official}
    args.out.write_text(dump(dict(sorted(merged.items()))), encoding="utf-8")
    print(f"{len(official)} official signatures transcribed from {args.commit}; {len(merged)} entries in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
