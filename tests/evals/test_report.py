"""The table, the Markdown report and the chart, from hand-made records."""

from evals.history import EvalRecord, GitState
from evals.report import comparable, explain, render_chart, render_markdown, render_table
from evals.scoring import CheckCounts, ExtraName, MissingName, ModelScore, NameScore, SignatureResult, summarize


def score(model, family, hits, expected, **fields):
    names = NameScore(expected=expected, hits=hits, scored_produced=hits + len(fields.get("extra", [])),
                      missing=fields.pop("missing", []), extra=fields.pop("extra", []))
    return ModelScore(model=model, family=family, tp=[1], ep=[1], seconds=2.0, names=names, **fields)


def record(scores, commit="a" * 40, dirty=False):
    return EvalRecord(git=GitState(commit=commit, dirty=dirty), sglang_version="0.5.23", options={"verify": "cpu", "llm": False},
                      totals=summarize(scores), scores=scores)


LLAMA = score("llama-3.1-8b", "dense_gqa", 14, 14, checks=CheckCounts(passed=13, skipped=1))
DEEPSEEK = score(
    "deepseek-v3", "mla_moe", 8, 14,
    missing=[MissingName(name="mla_paged_decode_h16_ckv512_kpe64_ps1", source="config heads 128 / TP 8", closest=None)],
    extra=[ExtraName(name="gemm_n1_k7168", components=["model.layers.*.mlp.gate"])],
    signatures=[SignatureResult(name="rmsnorm_h7168", produced=True, differences=["input weight dtype float32, expected bfloat16"])],
    checks=CheckCounts(passed=7, failed=1, failures=["rmsnorm_h512: output 'output' has non-finite values"]),
    pending=["model.layers.*.mlp.experts — no kernel rule for layer kind 'moe.experts'"],
)


def test_the_table_has_a_row_per_model_and_a_total():
    table = render_table(record([LLAMA, DEEPSEEK]))
    lines = table.splitlines()
    assert lines[0].startswith("eval ") and "commit aaaaaaaa" in lines[0] and "verify=cpu" in lines[0]
    assert any(l.startswith("llama-3.1-8b") and "14/14 100%" in l and "13/13 100% +1skip" in l for l in lines)
    assert any(l.startswith("deepseek-v3") and "8/14  57%" in l for l in lines)
    assert lines[-1].startswith("TOTAL (2 models)") and "22/28  79%" in lines[-1]


def test_explain_names_every_mismatch_and_its_reason():
    lines = explain(DEEPSEEK)
    assert lines[0].startswith("deepseek-v3 (mla_moe")
    body = "\n".join(lines[1:])
    for fragment in ("missing    mla_paged_decode_h16_ckv512_kpe64_ps1 — expected from: config heads 128 / TP 8",
                     "extra      gemm_n1_k7168 — from model.layers.*.mlp.gate",
                     "signature  rmsnorm_h7168: input weight dtype float32, expected bfloat16",
                     "check      rmsnorm_h512: output 'output' has non-finite values",
                     "pending    model.layers.*.mlp.experts"):
        assert fragment in body
    assert explain(LLAMA)[1].strip().startswith("every expected name produced")


def test_markdown_has_totals_families_history_and_mismatches():
    old, new = record([LLAMA, DEEPSEEK], commit="b" * 40), record([LLAMA, DEEPSEEK], dirty=True)
    text = render_markdown(new, [old, new], "history.png")
    assert "commit `aaaaaaaa+dirty`" in text and "**Recall 78.6%**" in text
    assert "| dense_gqa | 1 | 100.0% |" in text and "| mla_moe | 1 | 57.1% |" in text
    assert "![metrics over the eval history](history.png)" in text
    assert "`bbbbbbbb`" in text and "### deepseek-v3" in text and "missing    mla_paged_decode_h16_ckv512_kpe64_ps1" in text


def test_only_runs_over_the_same_models_make_a_trend():
    full, partial = record([LLAMA, DEEPSEEK]), record([LLAMA])
    assert comparable([full, partial, full], full) == [full, full]


def test_the_chart_is_a_png(tmp_path):
    path = tmp_path / "out" / "history.png"
    render_chart([record([LLAMA, DEEPSEEK], commit="b" * 40), record([LLAMA, DEEPSEEK])], path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_a_holdout_run_leads_with_its_precision():
    holdout = record([LLAMA, DEEPSEEK]).model_copy(update={"set": "holdout"})
    headline = render_table(holdout).splitlines()[0]
    assert headline.startswith("HOLDOUT (2 models outside the catalog): precision 22/23") and "recall 22/28" in headline
    assert "precision 22/23" in render_markdown(holdout, [holdout], None).split("## By family")[0]
    assert not render_table(record([LLAMA])).startswith("HOLDOUT")
