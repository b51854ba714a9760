"""The ground truth itself: complete, consistent with the shipped configs, and strict."""

import json
import re
import shutil
from collections import Counter

import pytest

from evals.truth import FAMILIES, GROUND_TRUTH_DIR, GroundTruth
from tools.errors import UnknownModelError
from tools.model_registry.catalog import CATALOG_DIR

TRUTH = GroundTruth.load()
MODELS = sorted(TRUTH.models.values(), key=lambda t: t.model)


def config_of(slug):
    config = json.loads((CATALOG_DIR / "configs" / f"{slug}.json").read_text())
    return config.get("text_config") or config


def numbers(name, key):
    return [int(v) for v in re.findall(rf"_{key}(\d+)", name)]


def test_covers_at_least_15_models_across_every_family():
    assert len(TRUTH.models) >= 15
    families = Counter(t.family for t in MODELS)
    assert set(families) == set(FAMILIES)
    assert all(count >= 2 for count in families.values()), families


@pytest.mark.parametrize("truth", MODELS, ids=lambda t: t.model)
def test_profile_is_the_catalogs_serving_profile(truth, catalog):
    entry = catalog.find(truth.model)
    assert entry is not None and entry.slug == truth.model
    assert (truth.tp, truth.ep) == (entry.tp, entry.ep)


@pytest.mark.parametrize("truth", MODELS, ids=lambda t: t.model)
def test_every_entry_says_where_it_comes_from(truth):
    assert all(e.source.strip() for e in truth.expected)
    assert all(d.reason.strip() for d in truth.dropped) and all(u.reason.strip() for u in truth.unscored)
    # A name taken over from model_coverage.mdx says so.
    for entry in truth.expected:
        if entry.name in truth.official:
            assert "model_coverage.mdx" in entry.source, entry.name


# Model types whose SGLang classes build their norms as Gemma(3)RMSNorm, (1 + weight).
GEMMA_NORM_MODEL_TYPES = {"gemma3", "gemma3_text", "qwen3_next"}


@pytest.mark.parametrize("truth", MODELS, ids=lambda t: t.model)
def test_residual_norms_and_sampling_follow_the_config(truth):
    config = config_of(truth.model)
    names = truth.expected_names
    hidden = config["hidden_size"]
    prefix = "gemma_" if config.get("model_type") in GEMMA_NORM_MODEL_TYPES else ""
    assert {f"{prefix}rmsnorm_h{hidden}", f"{prefix}fused_add_rmsnorm_h{hidden}"} <= names
    vocab_sizes = {v for n in names if "sampling" in n for v in numbers(n, "v")}
    assert vocab_sizes == ({config["vocab_size"]} if "vocab_size" in config else {262208})


@pytest.mark.parametrize("truth", MODELS, ids=lambda t: t.model)
def test_attention_heads_are_split_by_each_tp(truth):
    config = config_of(truth.model)
    heads, kv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    gqa = [n for n in truth.expected_names if n.startswith("gqa_")]
    expected_pairs = {(heads // tp, max(1, kv // tp)) for tp in truth.tp}
    assert {(numbers(n, "h")[0], numbers(n, "kv")[0]) for n in gqa} <= expected_pairs
    mla = [n for n in truth.expected_names if n.startswith(("mla_", "dsa_sparse"))]
    assert {numbers(n, "h")[0] for n in mla} <= {heads // tp for tp in truth.tp}


@pytest.mark.parametrize("truth", MODELS, ids=lambda t: t.model)
def test_moe_experts_are_split_by_each_ep(truth):
    config = config_of(truth.model)
    experts = config.get("n_routed_experts") or config.get("num_experts") or config.get("num_local_experts")
    for name in (n for n in truth.expected_names if n.startswith("moe_")):
        assert numbers(name, "e")[0] in {experts // ep for ep in truth.ep}, name
        assert numbers(name, "h")[0] == config["hidden_size"], name
        assert numbers(name, "topk")[0] == (config.get("num_experts_per_tok") or config.get("num_experts_per_token")), name


def test_quantized_checkpoints_expect_no_quantized_gemms():
    # Only the router of an fp8 checkpoint is a bf16 GEMM (model_coverage.mdx, DeepSeek V3).
    for truth in MODELS:
        if "quantization_config" in json.loads((CATALOG_DIR / "configs" / f"{truth.model}.json").read_text()):
            config = config_of(truth.model)
            experts = config.get("n_routed_experts") or config.get("num_local_experts")
            assert [n for n in truth.expected_names if n.startswith("gemm_")] == [f"gemm_n{experts}_k{config['hidden_size']}"], truth.model


def test_signatures_agree_with_the_names_they_are_filed_under():
    for name, signature in TRUTH.signatures.items():
        constants = {v for v in signature.axes.values() if v != "var"}
        # Shape tokens only: routing parameters (topk, ng, kg) are not axes of every MoE definition.
        shape_numbers = {int(v) for v in re.findall(r"_(?:h|kv|d|ps|v|n|k|e|i|ckv|kpe|qk|vo|rd)(\d+)", name)}
        assert shape_numbers and shape_numbers <= constants | {1}, (name, shape_numbers - constants)


def test_an_official_name_left_unexplained_is_refused(tmp_path):
    root = tmp_path / "ground_truth"
    shutil.copytree(GROUND_TRUTH_DIR, root)
    path = root / "models" / "qwen3-8b.toml"
    text = path.read_text()
    assert 'replaces = "gemm_n44032_k4096"\n' in text
    path.write_text(text.replace('replaces = "gemm_n44032_k4096"\n', ""))
    with pytest.raises(ValueError, match="gemm_n44032_k4096"):
        GroundTruth.load(root)


def test_a_sampled_signature_must_be_recorded(tmp_path):
    root = tmp_path / "ground_truth"
    shutil.copytree(GROUND_TRUTH_DIR, root)
    signatures = json.loads((root / "signatures.json").read_text())
    del signatures["gqa_paged_decode_h32_kv8_d128_ps1"]
    (root / "signatures.json").write_text(json.dumps(signatures))
    with pytest.raises(ValueError, match="gqa_paged_decode_h32_kv8_d128_ps1"):
        GroundTruth.load(root)


def test_models_are_selected_by_alias_family_or_not_at_all():
    assert [t.model for t in TRUTH.select(["llama", "Qwen/Qwen3-8B"])] == ["llama-3.1-8b", "qwen3-8b"]
    assert {t.family for t in TRUTH.select(families=["mla_moe"])} == {"mla_moe"}
    with pytest.raises(UnknownModelError, match="gpt-9"):
        TRUTH.select(["gpt-9"])
