"""An eval run for people: the terminal table, mismatch explanations, the Markdown report
and the chart of the metrics over the run history."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evals.history import EvalRecord
from evals.merge import MergeScore
from evals.scoring import ModelScore, Totals, summarize

HISTORY_ROWS = 20


def _ratio(hits: int, total: int) -> str:
    return f"{hits}/{total} {100 * hits / total:3.0f}%" if total else "-"


def _signatures(matched: int, checked: int, departed: int) -> str:
    return _ratio(matched, checked) + (f" +{departed}dep" if departed else "")


def _llm(kernels: int, attempts: int, tokens: int | None) -> str:
    if not kernels:
        return "-"
    per_kernel = f"{attempts / kernels:.1f} att"
    return per_kernel + (f", {tokens / kernels:.0f} tok" if tokens is not None else "") + f" x{kernels}"


def _row(score: ModelScore) -> list[str]:
    if score.error:
        return [score.model, score.family, str(score.tp), str(score.ep), "ERROR", "", "", "", "", "", f"{score.seconds:.1f}s"]
    checks = score.checks
    return [
        score.model,
        score.family,
        ",".join(map(str, score.tp)),
        ",".join(map(str, score.ep)),
        _ratio(score.names.hits, score.names.expected),
        _ratio(score.names.hits, score.names.scored_produced),
        _signatures(score.signatures_matched, score.signatures_checked, score.signatures_departed),
        _ratio(checks.passed, checks.passed + checks.failed) + (f" +{checks.skipped}skip" if checks.skipped else ""),
        str(len(score.pending)),
        _llm(score.llm.kernels, score.llm.attempts, score.llm.tokens),
        f"{score.seconds:.1f}s",
    ]


def _totals_row(label: str, totals: Totals) -> list[str]:
    return [
        label, "", "", "",
        _ratio(totals.hits, totals.expected),
        _ratio(totals.hits, totals.scored_produced),
        _signatures(totals.signatures_matched, totals.signatures_checked, totals.signatures_departed),
        _ratio(totals.checks_passed, totals.checks_passed + totals.checks_failed) + (f" +{totals.checks_skipped}skip" if totals.checks_skipped else ""),
        str(totals.pending),
        _llm(totals.llm_kernels, totals.llm_attempts, totals.llm_tokens),
        f"{totals.seconds:.1f}s",
    ]


HEADER = ["model", "family", "tp", "ep", "recall", "precision", "signatures", "reference checks", "pending", "llm/kernel", "time"]


def render_table(record: EvalRecord) -> str:
    """The scores as a fixed-width terminal table, one row per model and a total."""
    rows = [HEADER] + [_row(s) for s in record.scores] + [_totals_row(f"TOTAL ({record.totals.models} models)", record.totals)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    head = f"eval {record.time}  commit {record.label}  SGLang {record.sglang_version or '?'}  " + "  ".join(f"{k}={v}" for k, v in record.options.items())
    foot = ["", merge_line(record.merge)] if record.merge else []
    departures = departure_lines(record)
    if record.set == "holdout":
        head = holdout_headline(record.totals) + "\n" + head
    return "\n".join([head, *lines, *foot, *departures])


def merge_line(merge: MergeScore) -> str:
    return (
        f"merge into the {merge.official} official definitions ({merge.models} models, catalog order): "
        f"{len(merge.duplicates)} duplicates, {len(merge.changed)} official files changed beyond tags, "
        f"{merge.tagged} gained tags, {merge.new} new, {len(merge.conflicts)} conflicts (not written)"
    )


def departure_lines(record: EvalRecord) -> list[str]:
    """The documented departures the signatures counted apart (`+Ndep`), each once."""
    seen = {}
    for score in record.scores:
        for result in score.signatures:
            if result.departed:
                seen.setdefault(result.name, result.departure)
    return [f"departure (counted apart): {name}: {what}" for name, what in sorted(seen.items())]


def holdout_headline(totals: Totals) -> str:
    """Precision first: on models nobody tuned the extraction for, a definition a model does
    not run is the failure that matters; recall shows what stays pending."""
    return (
        f"HOLDOUT ({totals.models} models outside the catalog): precision {_ratio(totals.hits, totals.scored_produced)} "
        f"(every definition produced is one the model runs), recall {_ratio(totals.hits, totals.expected)}, "
        f"{totals.pending} components pending"
    )


def explain(score: ModelScore) -> list[str]:
    """Every mismatch of one model, one line each: what is missing or extra, and why."""
    names = score.names
    lines = [f"{score.model} ({score.family}, tp={score.tp} ep={score.ep}): recall {names.hits}/{names.expected}, precision {names.hits}/{names.scored_produced}"]
    if score.error:
        return lines + [f"  error: {score.error}"]
    for missing in names.missing:
        closest = f" (closest produced: {missing.closest})" if missing.closest else ""
        lines.append(f"  missing    {missing.name}{closest} — expected from: {missing.source}")
    for extra in names.extra:
        lines.append(f"  extra      {extra.name} — from {', '.join(extra.components) or 'an unknown component'}")
    for name in names.unscored:
        lines.append(f"  unscored   {name}")
    for result in score.signatures:
        if not result.produced:
            lines.append(f"  signature  {result.name}: not produced")
        label = "departure " if result.departed else "signature "
        for difference in result.differences:
            lines.append(f"  {label} {result.name}: {difference}")
    for failure in score.checks.failures:
        lines.append(f"  check      {failure}")
    for pending in score.pending:
        lines.append(f"  pending    {pending}")
    if len(lines) == 1:
        lines.append("  every expected name produced, nothing extra, official signatures match")
    return lines


def _percent(value: float | None) -> str:
    return f"{100 * value:.1f}%" if value is not None else "-"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def render_markdown(record: EvalRecord, history: list[EvalRecord], chart_name: str | None) -> str:
    totals = record.totals
    holdout = record.set == "holdout"
    out = [
        "# Holdout eval: models outside the catalog" if holdout else "# Extraction eval",
        "",
        "Generated by `agent eval --holdout`; ground truth and configs in `evals/holdout/` (provenance: `evals/holdout/SOURCES.md`)."
        if holdout
        else "Generated by `agent eval`; ground truth in `evals/ground_truth/` (policy: `evals/README.md`).",
        "",
        *([f"**{holdout_headline(totals)}**", ""] if holdout else []),
        f"Latest run: {record.time}, commit `{record.label}`, SGLang {record.sglang_version or '?'}, "
        + ", ".join(f"{k}={v}" for k, v in record.options.items()) + ".",
        "",
        f"**Recall {_percent(totals.recall)}** ({totals.hits}/{totals.expected} expected names), "
        f"**precision {_percent(totals.precision)}** ({totals.hits}/{totals.scored_produced} scored names), "
        f"signatures {_percent(totals.signature_accuracy)} ({totals.signatures_matched}/{totals.signatures_checked} against the "
        f"official files, {totals.signatures_departed} documented departures), "
        f"reference checks {_percent(totals.reference_pass_rate)} ({totals.checks_passed} passed, {totals.checks_failed} failed, "
        f"{totals.checks_skipped} left for a GPU), {totals.pending} components pending, {totals.seconds:.0f} s.",
        "",
        "## By family",
        "",
    ]
    families = sorted({s.family for s in record.scores})
    family_rows = []
    for family in families:
        t = summarize([s for s in record.scores if s.family == family])
        family_rows.append([family, str(t.models), _percent(t.recall), _percent(t.precision), _percent(t.signature_accuracy), _percent(t.reference_pass_rate), str(t.pending)])
    out += _md_table(["family", "models", "recall", "precision", "signatures", "reference checks", "pending"], family_rows)
    out += ["", "## By model", ""]
    out += _md_table(HEADER, [_row(s) for s in record.scores] + [_totals_row("**total**", totals)])
    if record.merge:
        merge = record.merge
        out += ["", "## Merge into the official dataset", "", merge_line(merge) + "."]
        out += [f"- duplicate: {d}" for d in merge.duplicates] + [f"- changed: {c}" for c in merge.changed]
        out += [f"- conflict: {c}" for c in merge.conflicts]
    departures = departure_lines(record)
    if departures:
        out += ["", "## Documented departures from the dataset", ""] + [f"- {line}" for line in departures]
    if chart_name:
        out += ["", f"![metrics over the eval history]({chart_name})"]
    out += ["", f"## History (last {HISTORY_ROWS} runs over the same models)", ""]
    history_rows = [
        [r.time, f"`{r.label}`", str(r.totals.models), _percent(r.totals.recall), _percent(r.totals.precision),
         _percent(r.totals.signature_accuracy), _percent(r.totals.reference_pass_rate), f"{r.totals.seconds:.0f} s"]
        for r in history[-HISTORY_ROWS:]
    ]
    out += _md_table(["time", "commit", "models", "recall", "precision", "signatures", "reference", "time"], history_rows)
    out += ["", "## Mismatches", "", "Missing and extra names, signature differences, failed checks and pending components, per model.", ""]
    for score in record.scores:
        lines = explain(score)
        out += [f"### {score.model}", "", lines[0], "", "```", *[line.strip() for line in lines[1:]], "```", ""]
    return "\n".join(out)


def comparable(history: list[EvalRecord], record: EvalRecord) -> list[EvalRecord]:
    """The runs over the same models as `record`: only those make a trend."""
    models = {s.model for s in record.scores}
    return [r for r in history if {s.model for s in r.scores} == models]


def render_chart(history: list[EvalRecord], path: Path) -> None:
    """Recall, precision, signature accuracy and reference pass rate per run, and wall time."""
    figure = Figure(figsize=(max(6.0, 1.2 + 0.6 * len(history)), 6.5), layout="constrained")
    rates, times = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    x = list(range(len(history)))
    for label, values in (
        ("recall", [r.totals.recall for r in history]),
        ("precision", [r.totals.precision for r in history]),
        ("signatures", [r.totals.signature_accuracy for r in history]),
        ("reference checks", [r.totals.reference_pass_rate for r in history]),
    ):
        rates.plot(x, [v if v is not None else float("nan") for v in values], marker="o", label=label)
    rates.set_ylim(0, 1.05)
    rates.set_ylabel("rate")
    rates.grid(alpha=0.3)
    rates.legend(loc="lower left", fontsize="small")
    models = history[-1].totals.models if history else 0
    rates.set_title(f"agent eval over {len(history)} runs ({models} models)")
    times.bar(x, [r.totals.seconds for r in history], color="grey")
    times.set_ylabel("wall time (s)")
    times.set_xticks(x, [r.label for r in history], rotation=45, ha="right", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))
