"""Baselines of real models, analysed once per session from the pinned SGLang sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import exit_codes

ACCEPTANCE_MODELS = ("llama-3.1-8b", "deepseek-v3", "qwen3-30b-a3b", "kimi-k2")
REPO = Path(__file__).resolve().parents[3]


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


@pytest.fixture(scope="session")
def written(baseline, tmp_path_factory):
    """written(slug) -> the directory `write_baseline` wrote the model's files to (once per model)."""
    from tools.baseline.analysis import write_baseline

    root = tmp_path_factory.mktemp("model_analysis")
    done = {}

    def _written(slug):
        if slug not in done:
            done[slug] = write_baseline(baseline(slug)[1], root)
        return done[slug]

    return _written


@pytest.fixture(scope="session")
def extract_names(sglang_source, tmp_path_factory):
    """extract_names(slug) -> the definition names `agent extract --dry-run` reports as new
    at the model's default profile, from a real run of the command (once per model)."""
    cache = {}

    def _names(slug):
        if slug not in cache:
            output = tmp_path_factory.mktemp("dataset")
            result = subprocess.run(
                [sys.executable, "-m", "agent.cli", "extract", "--model-name", slug, "--dry-run", "--json", "--quiet", "--verify", "none",
                 "--output", str(output), "--sglang-version", sglang_source.version, "--offline"],
                capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
            )
            assert result.returncode in (exit_codes.SUCCESS, exit_codes.INCOMPLETE), result.stderr
            report = json.loads(result.stdout)
            cache[slug] = {e["name"] for e in report["entries"] if e["outcome"] == "new"}
        return cache[slug]

    return _names


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
