"""Bundles: the validator's paths, content keys, and only user-supplied workloads."""

from __future__ import annotations

import json

from tools.publish.bundle import definition_files, definitions_bundle, tags_bundle
from tools.publish.layout import classify, layout_problems


def test_layout_accepts_exactly_the_validators_paths():
    assert classify("definitions/gemm/gemm_n8_k8.json")[0] == "definition"
    assert classify("solutions/baseline/gemm/gemm_n8_k8/gemm_n8_k8_flashinfer_baseline.json")[0] == "solution"
    assert classify("traces/baseline/gemm/gemm_n8_k8.jsonl")[0] == "trace"
    problems = layout_problems([
        "solutions/baseline/gemm/gemm_n8_k8.json",  # the old three-part path: skipped by the validator
        "traces/gemm/gemm_n8_k8.jsonl",
        "reports/extract-llama.json",
        ".agent/batch/state.json",
        "docs/model_coverage.mdx",
        "definitions/../../etc/passwd.json",
    ])
    assert len(problems) == 6


def test_a_definition_bundle_in_the_validators_layout(tmp_path):
    definition = {"name": "gemm_n8_k8", "op_type": "gemm"}
    (tmp_path / "def.json").write_text(json.dumps(definition))
    solution = tmp_path / "solutions" / "baseline" / "gemm" / "gemm_n8_k8" / "gemm_n8_k8_flashinfer_baseline.json"
    solution.parent.mkdir(parents=True)
    solution.write_text("{}")
    workloads = tmp_path / "user"
    (workloads / "workloads" / "gemm").mkdir(parents=True)
    (workloads / "workloads" / "gemm" / "gemm_n8_k8.jsonl").write_text("{}\n")
    (workloads / "workloads" / "gemm" / "other.jsonl").write_text("{}\n")
    files = definition_files(tmp_path / "def.json", definition, solution_file=solution, reference_test="def test(): pass\n", workloads_dir=workloads)
    bundle = definitions_bundle("definition:gemm_n8_k8", "agent/def-gemm_n8_k8", ["llama"], {"gemm_n8_k8": files}, {})
    assert sorted(bundle.files) == [
        "definitions/gemm/gemm_n8_k8.json",
        "solutions/baseline/gemm/gemm_n8_k8/gemm_n8_k8_flashinfer_baseline.json",
        "tests/references/test_gemm_n8_k8.py",
        "workloads/gemm/gemm_n8_k8.jsonl",
    ]
    assert bundle.problems() == [] and bundle.has_workloads and bundle.verified
    no_workloads = definition_files(tmp_path / "def.json", definition, solution_file=solution, reference_test="def test(): pass\n")
    assert not any(p.startswith(("workloads/", "blob/", "traces/")) for p in no_workloads)


def test_the_key_follows_the_content_only():
    a = tags_bundle("llama", {"rmsnorm_h8": ("rmsnorm", b"{}")})
    b = tags_bundle("llama", {"rmsnorm_h8": ("rmsnorm", b"{}")})
    c = tags_bundle("llama", {"rmsnorm_h8": ("rmsnorm", b"{ }")})
    assert a.key == b.key != c.key and a.branch == "agent/tags-llama"
