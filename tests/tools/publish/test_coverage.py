"""Coverage rows in a model_coverage.mdx written the way flashinfer-bench's is."""

from __future__ import annotations

from tools.publish.coverage import CoverageRow, mark_covered

DOC = """# Model Kernel Coverage

## Llama 3.1 / 3.3 70B

| Definition | Op Type | Status |
|-----------|---------|:------:|
| `rmsnorm_h8192` | rmsnorm | ❌ |
| `gemm_n8192_k8192` | gemm | ✅ |

**Coverage**: 1 / 2 definitions present. Missing: rmsnorm.

---

## Llama 3.2 3B

| Definition | Op Type | Status |
|-----------|---------|:------:|
| `rmsnorm_h3072` | rmsnorm | 🟡 |

**Coverage**: 1 / 1 definitions present.
"""


def test_sets_and_adds_rows_in_the_models_section_and_recounts():
    out = mark_covered(DOC, ["llama-3.1-70b", "Llama 3.1 70B Instruct"], "Llama 3.1 70B Instruct",
                       [CoverageRow("rmsnorm_h8192", "rmsnorm", "🟡"), CoverageRow("gqa_ragged_prefill_causal_h8_kv1_d128", "gqa_ragged", "🟡")])
    section = out.split("## Llama 3.2 3B")[0]
    assert "| `rmsnorm_h8192` | rmsnorm | 🟡 |" in section
    assert "| `gemm_n8192_k8192` | gemm | ✅ |\n| `gqa_ragged_prefill_causal_h8_kv1_d128` | gqa_ragged | 🟡 |" in section
    assert "**Coverage**: 3 / 3 definitions present. Missing: rmsnorm." in section
    assert out.split("## Llama 3.2 3B")[1] == DOC.split("## Llama 3.2 3B")[1]


def test_never_lowers_a_checked_row_and_leaves_an_unchanged_section_alone():
    out = mark_covered(DOC, ["llama-3.1-70b"], "Llama 3.1 70B", [CoverageRow("gemm_n8192_k8192", "gemm", "🟡")])
    assert out == DOC


def test_a_model_without_a_section_gets_one():
    out = mark_covered(DOC, ["qwen3-8b", "Qwen3 8B"], "Qwen3 8B", [CoverageRow("rmsnorm_h4096", "rmsnorm", "🟡")])
    assert out.startswith(DOC.rstrip("\n"))
    assert out.rstrip().endswith("## Qwen3 8B\n\n| Definition | Op Type | Status |\n|-----------|---------|:------:|\n| `rmsnorm_h4096` | rmsnorm | 🟡 |\n\n**Coverage**: 1 / 1 definitions present.")
