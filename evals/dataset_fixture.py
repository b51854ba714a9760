"""A stand-in for the real flashinfer-trace dataset, built from the transcribed signatures.

CI cannot fetch flashinfer-bench, and its files are not copied into this repository. The
facts transcribed in `ground_truth/signatures.json` (name, op type, axes in file order,
input and output shapes and dtypes, constraints, tags) are enough to rebuild each official
definition's interface in the dataset's layout, `definitions/{op_type}/{name}.json`, with
the keys in the official order and each tensor spec written over several lines, as most
official files are. Descriptions and references are this project's own: the reference is
a placeholder that names the official file and raises if run. Extraction never runs the
reference of a definition it finds in the dataset, so a merge into the fixture behaves
as a merge into the real dataset: which names exist, with which signatures and tags.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.truth import Signature

SNAPSHOT_MARK = "@e489a246:"
"""Entries transcribed from the last snapshot before the dataset moved to Hugging Face."""


def official_signatures(signatures: dict[str, Signature]) -> dict[str, Signature]:
    """The entries that stand for the official snapshot (not names sampled from later commits)."""
    return {name: sig for name, sig in signatures.items() if SNAPSHOT_MARK in sig.source}


def fixture_definition(name: str, signature: Signature) -> dict[str, Any]:
    """One official definition's interface as a Definition dict, with a placeholder reference."""
    official_file = signature.source.split(" ")[0]
    message = f"placeholder: the reference of {official_file} is not copied into this project"
    reference = f"def run({', '.join(signature.inputs)}):\n    raise NotImplementedError({message!r})\n"
    definition: dict[str, Any] = {
        "name": name,
        "description": f"Interface of the official definition, transcribed from {official_file}.",
        "op_type": signature.op_type,
        "tags": list(signature.tags),
        "axes": {axis: {"type": "var"} if value == "var" else {"type": "const", "value": value} for axis, value in signature.axes.items()},
    }
    if signature.constraints:
        definition["constraints"] = list(signature.constraints)
    definition["inputs"] = {n: {"shape": t.shape, "dtype": t.dtype} for n, t in signature.inputs.items()}
    definition["outputs"] = {n: {"shape": t.shape, "dtype": t.dtype} for n, t in signature.outputs.items()}
    definition["reference"] = reference
    return definition


def write_fixture(root: Path, signatures: dict[str, Signature]) -> dict[str, Path]:
    """Write every official definition's interface under `root/definitions/`; paths by name."""
    written = {}
    for name, signature in sorted(official_signatures(signatures).items()):
        path = Path(root) / "definitions" / signature.op_type / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(fixture_definition(name, signature), indent=2) + "\n", encoding="utf-8")
        written[name] = path
    return written
