"""The holdout (evals/holdout/): models outside the catalog, each with its public config."""

import json
import re

import pytest

from evals.truth import HOLDOUT_DIR, GroundTruth

HOLDOUT = GroundTruth.load(HOLDOUT_DIR)
MODELS = sorted(HOLDOUT.models.values(), key=lambda t: t.model)


def test_at_least_ten_models_none_of_them_in_the_catalog(catalog):
    assert len(MODELS) >= 10
    for truth in MODELS:
        assert catalog.find(truth.model) is None, truth.model


@pytest.mark.parametrize("truth", MODELS, ids=lambda t: t.model)
def test_each_model_has_its_config_and_a_source_for_every_name(truth):
    config = json.loads(open(truth.config).read())
    assert config["architectures"]
    assert truth.expected and all(e.source for e in truth.expected)
    sources = (HOLDOUT_DIR / "SOURCES.md").read_text()
    assert f"**{truth.model}**" in sources


@pytest.mark.parametrize("truth", MODELS, ids=lambda t: t.model)
def test_sampling_and_residual_widths_follow_the_config(truth):
    config = json.loads(open(truth.config).read())
    vocab = config["vocab_size"]
    assert {f"top_k_sampling_from_probs_v{vocab}", f"top_p_sampling_from_probs_v{vocab}", f"top_k_top_p_sampling_from_probs_v{vocab}"} <= truth.expected_names
    norm_widths = {int(w) for n in truth.expected_names for w in re.findall(r"^(?:gemma_)?(?:fused_add_)?(?:rms|layer)norm_h(\d+)$", n)}
    assert config["hidden_size"] in norm_widths


def test_a_config_path_must_exist(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.toml").write_text(
        'model = "m"\nconfig = "configs/m.json"\nfamily = "dense_gqa"\ntp = [1]\nep = [1]\n'
        'profile_source = "p"\nconfig_source = "c"\nofficial_source = "o"\n[[expected]]\nname = "x"\nsource = "s"\n'
    )
    with pytest.raises(ValueError, match="configs/m.json"):
        GroundTruth.load(tmp_path)
