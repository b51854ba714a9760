"""Extraction into the real dataset's definitions: the dataset decides, nothing is duplicated.

The dataset here is rebuilt from the official signatures transcribed in
evals/ground_truth/signatures.json (flashinfer-bench@e489a246: names, axes, shapes,
dtypes, constraints and tags), in the official layout. Extracting a model into it must
reuse every official definition the model runs, add nothing but model:/tp:/ep: tags to
those files, and never write a second copy of a kernel the dataset already defines.
"""

import difflib
import json
import re
from pathlib import Path

import pytest

from agent import exit_codes
from agent.cli import main
from evals.dataset_fixture import write_fixture
from evals.truth import GroundTruth

OFFICIAL_LLAMA_GEMMS = {"gemm_n6144_k4096", "gemm_n4096_k4096", "gemm_n28672_k4096", "gemm_n4096_k14336"}
OFFICIAL_LLAMA_PS64 = {"gqa_paged_decode_h32_kv8_d128_ps64", "gqa_paged_prefill_causal_h32_kv8_d128_ps64"}


@pytest.fixture(scope="module")
def official():
    return GroundTruth.load().signatures


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in (root / "definitions").rglob("*.json")}


def extract(root: Path, model: str, *extra: str) -> dict:
    status = main(["extract", "--model-name", model, "--verify", "none", "--output", str(root), "--quiet", *extra])
    reports = sorted((root / "reports").glob(f"extract-{model}-*.json"))
    report = json.loads(reports[-1].read_text())
    assert report["exit_status"] == status
    return report


def versioned_copies(files: dict[str, str]) -> list[str]:
    """Files named like another definition plus a version suffix (`x_v2` beside `x`)."""
    stems = {Path(p).stem for p in files}
    return [p for p in files if (m := re.fullmatch(r"(.+)_v\d+", Path(p).stem)) and m.group(1) in stems]


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def assert_only_tags_added(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """Every official file is unchanged or gains tag lines only; the added tags by file."""
    added = {}
    for path, text in before.items():
        lines = changed_lines(text, after[path])
        assert all(line.startswith("+") for line in lines), f"{path} changed beyond added lines: {lines}"
        tags = [json.loads(line[1:].strip().rstrip(",")) for line in lines]
        assert all(re.fullmatch(r"(model|tp|ep):[\w.\-]+", t) for t in tags), f"{path}: added lines are not model/tp/ep tags: {lines}"
        old, new = json.loads(text), json.loads(after[path])
        assert dict(new, tags=None) == dict(old, tags=None) and list(new) == list(old)
        if tags:
            added[path] = tags
    return added


def test_llama_reuses_the_official_definitions_and_adds_no_tags_they_have(tmp_path, official):
    write_fixture(tmp_path, official)
    before = snapshot(tmp_path)
    report = extract(tmp_path, "llama-3.1-8b")
    after = snapshot(tmp_path)

    outcomes = {e["name"]: e for e in report["entries"]}
    # The dataset's GEMMs ([N, K], C = A @ B.T, float16) and page-64 attention (with
    # kv_last_page_len) are the kernels Llama runs, exactly as the dataset writes them.
    for name in OFFICIAL_LLAMA_GEMMS | OFFICIAL_LLAMA_PS64:
        assert outcomes[name]["outcome"] == "existing", outcomes[name]
        assert outcomes[name]["convention_differences"] == [], outcomes[name]
    assert versioned_copies(after) == []
    assert not report["entries"] or all(e["outcome"] != "conflict" for e in report["entries"])
    # Llama is tagged on all of these already: no official file changes at all.
    assert assert_only_tags_added(before, after) == {}
    new = {n: json.loads(t) for n, t in after.items() if n not in before}
    assert all(not any(tag.startswith("sglang:") for tag in d["tags"]) for d in new.values())
    assert report["exit_status"] == exit_codes.SUCCESS


def test_a_second_model_only_adds_its_tags_to_the_official_files(tmp_path, official):
    write_fixture(tmp_path, official)
    before = snapshot(tmp_path)
    report = extract(tmp_path, "qwen3-8b")
    added = assert_only_tags_added(before, snapshot(tmp_path))
    shared = {e["name"] for e in report["entries"] if e["outcome"] == "shared"}
    assert "gemm_n6144_k4096" in shared  # Qwen3 8B's qkv_proj is Llama 3.1 8B's shape
    gemm = "definitions/gemm/gemm_n6144_k4096.json"
    # GEMM, norm and sampling files carry no tp: tag in the dataset, so none is added; the
    # attention files Qwen3 8B shares are tagged tp:1 already (Llama 3.1 8B's).
    assert gemm in added and "definitions/gqa_paged/gqa_paged_decode_h32_kv8_d128_ps64.json" in added
    assert set(map(tuple, added.values())) == {("model:qwen3-8b",)}


def test_another_kernel_under_an_official_name_is_reported_not_written(tmp_path, official):
    # Qwen3-Next at EP=4 runs 128 of its 512 experts after routing over all 512; the
    # dataset's moe_..._e128_... routes over 128 experts: the same name, another kernel.
    write_fixture(tmp_path, official)
    before = snapshot(tmp_path)
    report = extract(tmp_path, "qwen3-next-80b-a3b", "--tp", "4", "--ep", "4")
    name = "moe_fp8_block_scale_renorm_topk10_e128_h2048_i512"
    (entry,) = [e for e in report["entries"] if e["name"] == name]
    assert entry["outcome"] == "conflict"
    assert any("routing_logits" in d and "128" in d and "512" in d for d in entry["differences"]), entry["differences"]
    assert Path(entry["proposal_path"]).is_file() and "definitions" not in Path(entry["proposal_path"]).parts
    after = snapshot(tmp_path)
    assert versioned_copies(after) == []
    assert_only_tags_added(before, after)
    assert report["exit_status"] == exit_codes.NEEDS_REVIEW


def test_gemma_reports_the_dataset_norms_it_departs_from(tmp_path, official):
    write_fixture(tmp_path, official)
    report = extract(tmp_path, "gemma-3-27b")
    notes = {n["name"]: n["note"] for n in report["dataset_notes"]}
    assert "departure" in notes["rmsnorm_h5376"] and "gemma_rmsnorm_h5376" in notes["rmsnorm_h5376"]
    assert "x * (1 + w)" in notes["rmsnorm_h5376"]
    assert "gemma_fused_add_rmsnorm_h5376" in notes["fused_add_rmsnorm_h5376"]
