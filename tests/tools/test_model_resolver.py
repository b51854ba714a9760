"""Model names -> SGLang model classes and configs."""

import json

import pytest

from tools.errors import ConfigError, UnknownModelError
from tools.model_registry.catalog import CATALOG_DIR
from tools.model_registry.resolver import ModelResolver, scan_entry_classes


@pytest.fixture(scope="module")
def resolver(sglang_source, catalog):
    return ModelResolver(sglang_source, catalog)


def test_entry_classes_are_read_from_every_model_file(sglang_source):
    classes = scan_entry_classes(sglang_source)
    by_arch = {c.architecture: c.file for c in classes}
    assert by_arch["LlamaForCausalLM"] == "sglang/srt/models/llama.py"
    assert by_arch["DeepseekV3ForCausalLM"] == "sglang/srt/models/deepseek_v2.py"  # from a list
    assert len({c.file for c in classes}) > 150


@pytest.mark.parametrize("name", ["llama", "LLAMA", "llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B-Instruct"])
def test_names_aliases_and_repo_ids(resolver, name):
    model = resolver.resolve(name)
    assert model.slug == "llama-3.1-8b"
    assert model.model_class.architecture == "LlamaForCausalLM"
    assert model.config_source == "shipped:llama-3.1-8b.json"


def test_a_near_miss_is_taken_and_said_so(resolver):
    model = resolver.resolve("qwen3-8bb")
    assert model.slug == "qwen3-8b"
    assert "closest" in model.chosen_because and "qwen3-8bb" in model.chosen_because


def test_kimi_is_kimi_k2_and_the_other_matches_are_listed(resolver):
    model = resolver.resolve("kimi")
    assert model.slug == "kimi-k2"
    assert model.model_class.architecture == "DeepseekV3ForCausalLM"
    assert "alias" in model.chosen_because
    assert any("kimi_linear.py" in m for m in model.other_matches)
    assert any("kimi_k25.py" in m for m in model.other_matches)


def test_unknown_name_lists_the_closest_and_fails(resolver):
    with pytest.raises(UnknownModelError) as info:
        resolver.resolve("qwen-turbo-9000")
    assert "Unknown model 'qwen-turbo-9000'" in info.value.message
    assert info.value.hint and "--config" in info.value.hint


def test_config_without_architectures_is_a_config_error(resolver, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hidden_size": 4096}))
    with pytest.raises(ConfigError, match="architectures"):
        resolver.resolve("my-model", config_path=path)


def test_malformed_config_says_where(resolver, tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "architectures": ["LlamaForCausalLM"],\n  "hidden_size": 40 96\n}')
    with pytest.raises(ConfigError, match="line 3"):
        resolver.resolve("my-model", config_path=path)


def test_architecture_sglang_does_not_have(resolver, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"architectures": ["LlamaForCausalLMX"]}))
    with pytest.raises(UnknownModelError) as info:
        resolver.resolve("my-model", config_path=path)
    assert "LlamaForCausalLM" in info.value.candidates


def test_a_model_outside_the_catalog_with_its_config(resolver, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}))
    model = resolver.resolve("acme/Tiny-Qwen-1B", config_path=path)
    assert model.slug == "tiny-qwen-1b"
    assert model.model_class.file == "sglang/srt/models/qwen2.py"
    assert model.profile.tp == [1]


def test_a_text_only_config_for_a_catalog_vlm_decides_by_its_own_architectures(resolver, tmp_path):
    # Gemma 3 27B is catalogued as its text_config; a Gemma3ForCausalLM checkpoint has no text_config.
    text = json.loads((CATALOG_DIR / "configs" / "gemma-3-27b.json").read_text())["text_config"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**text, "architectures": ["Gemma3ForCausalLM"]}))
    model = resolver.resolve("gemma-3-27b", config_path=path)
    assert model.architecture == "Gemma3ForCausalLM" and model.model_class.file == "sglang/srt/models/gemma3_causal.py"
    assert model.config["hidden_size"] == text["hidden_size"]
    # The catalog's defaults for the fields the published text config omits still apply.
    assert model.config["vocab_size"] == 262208


def test_a_config_with_neither_text_config_nor_architectures_says_so(resolver, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hidden_size": 4096}))
    with pytest.raises(ConfigError, match="neither a 'text_config' object nor an `architectures` list"):
        resolver.resolve("gemma-3-27b", config_path=path)
