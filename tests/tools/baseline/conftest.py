"""Baselines of real models, analysed once per session from the pinned SGLang sources."""

from __future__ import annotations

import pytest

ACCEPTANCE_MODELS = ("llama-3.1-8b", "deepseek-v3", "qwen3-30b-a3b", "kimi-k2")


@pytest.fixture(scope="session")
def baseline(source_index, catalog):
    """baseline(slug) -> (ResolvedModel, BaselineAnalysis) at the model's serving profile."""
    from tools.baseline.analysis import analyse_baseline, profile_inventories
    from tools.model_registry.resolver import ModelResolver

    resolver = ModelResolver(source_index.source, catalog)
    cache = {}

    def _baseline(slug: str):
        if slug not in cache:
            model = resolver.resolve(slug)
            cache[slug] = (model, analyse_baseline(model, source_index, profile_inventories(source_index, model)))
        return cache[slug]

    return _baseline


def source_lines(sglang_source, span) -> list[str]:
    """The lines `span` names, read from the SGLang file."""
    lines = (sglang_source.root / span.file).read_text(encoding="utf-8").splitlines()
    assert 1 <= span.start_line <= span.end_line <= len(lines), span
    return lines[span.start_line - 1 : span.end_line]


def locator_for(index, config=None):
    """An entry-point locator over `index`, resolving names as the model parser does."""
    from tools.baseline.entry_points import EntryPointLocator
    from tools.model_parser.interpreter import ModelInterpreter
    from tools.model_parser.runtime import ParallelProfile

    return EntryPointLocator(index, ModelInterpreter(index, config or {}, ParallelProfile()))
