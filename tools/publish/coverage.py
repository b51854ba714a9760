"""The GitHub half of a pull-request pair: a model's rows in `docs/model_coverage.mdx`.

flashinfer-bench keeps one section per model (`## Llama 3.1 8B`) with a table
`| Definition | Op Type | Status |`. For each definition a bundle adds, its row is set
to 🟡 (definition present, no workload collected) or ✅ (workloads and passing traces
supplied), a row is added when the table lacks it, and the section's
`**Coverage**: X / Y` count follows when a row changed. A ✅ is never lowered to 🟡. A model without a
section gets one at the end. Pure text in, text out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COVERED, PARTIAL = "✅", "🟡"
_HEADING = re.compile(r"^## (?P<title>.+?)\s*$")
_ROW = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|")
_COUNT = re.compile(r"(\*\*Coverage\*\*:\s*)(\d+)\s*/\s*(\d+)")
_PRESENT = (COVERED, PARTIAL)


@dataclass(frozen=True)
class CoverageRow:
    name: str
    op_type: str
    status: str


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[\s\-/_]+", text.lower()) if t}


def find_section(lines: list[str], model_names: list[str]) -> int | None:
    """Index of the `## ` heading that names the model: every token of one of its names
    (slug or display name) appears in the heading; the closest such heading wins."""
    best: tuple[int, int] | None = None
    for index, line in enumerate(lines):
        match = _HEADING.match(line)
        if not match:
            continue
        heading = _tokens(match["title"])
        for name in model_names:
            wanted = _tokens(name)
            if wanted and wanted <= heading:
                extra = len(heading - wanted)
                if best is None or extra < best[0]:
                    best = (extra, index)
    return best[1] if best else None


def mark_covered(text: str, model_names: list[str], display_name: str, rows: list[CoverageRow]) -> str:
    lines = text.split("\n")
    start = find_section(lines, model_names)
    if start is None:
        return _append_section(text, display_name, rows)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    original = section = lines[start:end]
    for row in rows:
        section = _set_row(section, row)
    if section != original:  # a hand-written count is left as it is unless a row changed
        section = [_recount(line, section) for line in section]
    return "\n".join(lines[:start] + section + lines[end:])


def _set_row(section: list[str], row: CoverageRow) -> list[str]:
    for index, line in enumerate(section):
        match = _ROW.match(line)
        if match and match["name"] == row.name:
            cells = line.strip().strip("|").split("|")
            current = cells[-1].strip()
            if current == COVERED and row.status != COVERED:
                return section
            cells[-1] = f" {row.status} "
            section = list(section)
            section[index] = "|" + "|".join(cells) + "|"
            return section
    new_row = f"| `{row.name}` | {row.op_type} | {row.status} |"
    table_rows = [i for i, line in enumerate(section) if line.startswith("|")]
    if table_rows:
        last = table_rows[-1]
        return section[: last + 1] + [new_row] + section[last + 1 :]
    return section[:1] + ["", "| Definition | Op Type | Status |", "|-----------|---------|:------:|", new_row] + section[1:]


def _recount(line: str, section: list[str]) -> str:
    match = _COUNT.search(line)
    if not match:
        return line
    rows = [line_ for line_ in section if _ROW.match(line_)]
    present = sum(1 for r in rows if r.strip().strip("|").split("|")[-1].strip() in _PRESENT)
    return line[: match.start()] + f"{match.group(1)}{present} / {len(rows)}" + line[match.end() :]


def _append_section(text: str, display_name: str, rows: list[CoverageRow]) -> str:
    table = ["| Definition | Op Type | Status |", "|-----------|---------|:------:|"]
    table += [f"| `{r.name}` | {r.op_type} | {r.status} |" for r in rows]
    present = sum(1 for r in rows if r.status in _PRESENT)
    block = ["---", "", f"## {display_name}", "", *table, "", f"**Coverage**: {present} / {len(rows)} definitions present.", ""]
    return text.rstrip("\n") + "\n\n" + "\n".join(block)
