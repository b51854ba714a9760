"""Which models a batch runs: names, a models file, the catalog."""

from __future__ import annotations

import pytest

from agent.batch.models import from_catalog, from_file, from_names, unique
from tools.errors import ConfigError, UnknownModelError


def test_a_models_file_with_profiles_and_comments(tmp_path, catalog):
    listed = tmp_path / "batch.txt"
    listed.write_text("# the first batch\nllama-3.2-3b\nkimi tp=8 ep=8   # Kimi K2\n\nqwen3-30b-a3b tp=1,2\n")
    models = from_file(listed, catalog)
    assert [(m.slug, m.tp, m.ep) for m in models] == [("llama-3.2-3b", None, None), ("kimi-k2", [8], [8]), ("qwen3-30b-a3b", [1, 2], None)]


@pytest.mark.parametrize("line", ["llama tp=0", "llama tp=x", "llama pp=2"])
def test_a_bad_option_names_the_line(tmp_path, catalog, line):
    listed = tmp_path / "batch.txt"
    listed.write_text(f"qwen3-8b\n{line}\n")
    with pytest.raises(ConfigError, match="batch.txt:2"):
        from_file(listed, catalog)


def test_unknown_names_suggest_close_ones(catalog):
    with pytest.raises(UnknownModelError) as caught:
        from_names(["qwen3-8", "llama"], catalog)
    assert "qwen3-8b" in caught.value.hint


def test_aliases_resolve_to_slugs_once_and_conflicting_profiles_are_refused(tmp_path, catalog):
    assert [m.slug for m in unique(from_names(["llama", "llama-3.1-8b", "qwen3-8b"], catalog))] == ["llama-3.1-8b", "qwen3-8b"]
    listed = tmp_path / "batch.txt"
    listed.write_text("kimi tp=8\nkimi-k2 tp=4\n")
    with pytest.raises(ConfigError, match="twice"):
        unique(from_file(listed, catalog))
    assert len(from_catalog(catalog)) == len(catalog.models)
