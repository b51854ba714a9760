"""The merge metric counts what a merge did to the official files, from the files alone."""

import json

import pytest

from evals.dataset_fixture import write_fixture
from evals.merge import score_merge, snapshot
from evals.truth import GroundTruth
from tools.definition_file import append_tags


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    write_fixture(root, GroundTruth.load().signatures)
    return snapshot(root)


def test_the_fixture_holds_every_official_definition_in_the_dataset_layout(official):
    assert len(official) == 156
    gemm = json.loads(official["definitions/gemm/gemm_n6144_k4096.json"])
    assert gemm["inputs"]["B"] == {"shape": ["N", "K"], "dtype": "float16"}
    assert gemm["tags"] == ["status:verified", "model:llama-3.1-8b"]
    decode = json.loads(official["definitions/gqa_paged/gqa_paged_decode_h32_kv8_d128_ps64.json"])
    assert list(decode["inputs"]) == ["q", "k_cache", "v_cache", "kv_indptr", "kv_indices", "kv_last_page_len", "sm_scale"]


def test_an_untouched_dataset_scores_clean(official):
    score = score_merge(official, dict(official), models=1, conflicts=[])
    assert (score.duplicates, score.changed, score.tagged, score.new) == ([], [], 0, 0)


def test_tags_count_as_tags_and_every_other_change_as_a_change(official):
    after = dict(official)
    gemm, rms, decode = (f"definitions/{p}.json" for p in ("gemm/gemm_n6144_k4096", "rmsnorm/rmsnorm_h4096", "gqa_paged/gqa_paged_decode_h32_kv8_d128_ps64"))
    after[gemm] = append_tags(after[gemm], ["model:qwen3-8b"])
    after[rms] = append_tags(after[rms], ["sglang:0.5.23"])  # provenance is not a tag the dataset takes
    swapped = json.loads(after[decode])
    swapped["inputs"]["B"] = swapped["inputs"].pop("kv_last_page_len")
    after[decode] = json.dumps(swapped, indent=2)
    score = score_merge(official, after, models=1, conflicts=[])
    assert score.tagged == 1 and sorted(score.changed) == sorted([rms, decode])


def test_a_versioned_copy_and_a_renamed_twin_are_duplicates_a_new_kernel_is_not(official):
    after = dict(official)
    gemm = json.loads(official["definitions/gemm/gemm_n6144_k4096.json"])
    after["definitions/gemm/gemm_n6144_k4096_v2.json"] = json.dumps(dict(gemm, name="gemm_n6144_k4096_v2"))
    after["definitions/gemm/gemm_qkv_llama.json"] = json.dumps(dict(gemm, name="gemm_qkv_llama"))
    other = json.loads(json.dumps(gemm))
    other["axes"]["N"]["value"] = 6400
    after["definitions/gemm/gemm_n6400_k4096.json"] = json.dumps(dict(other, name="gemm_n6400_k4096"))
    # Written instead of rmsnorm_h5376 by a documented departure: the same signature, other math.
    rms = json.loads(official["definitions/rmsnorm/rmsnorm_h5376.json"])
    after["definitions/rmsnorm/gemma_rmsnorm_h5376.json"] = json.dumps(dict(rms, name="gemma_rmsnorm_h5376"))
    score = score_merge(official, after, models=1, conflicts=[])
    assert score.new == 4
    assert score.duplicates == [
        "gemm_n6144_k4096_v2: a versioned copy of gemm_n6144_k4096",
        "gemm_qkv_llama: the signature of gemm_n6144_k4096",
    ]


def test_another_familys_kernel_with_the_same_signature_is_not_a_duplicate(official):
    after = dict(official)
    rms = json.loads(official["definitions/rmsnorm/rmsnorm_h2048.json"])
    after["definitions/rmsnorm/gemma_rmsnorm_h2048.json"] = json.dumps(dict(rms, name="gemma_rmsnorm_h2048"))
    after["definitions/rmsnorm/rmsnorm_h2048_copy.json"] = json.dumps(dict(rms, name="rmsnorm_h2048_copy"))
    score = score_merge(official, after, models=1, conflicts=[])
    assert score.duplicates == ["rmsnorm_h2048_copy: the signature of rmsnorm_h2048"]
