"""Shared fixtures: the real SGLang sources (downloaded once), and GPU-test gating."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Keep the downloaded SGLang wheel between local runs; CI starts from a clean clone.
os.environ.setdefault("FLASHINFER_TRACE_AGENT_CACHE", str(REPO / ".cache" / "agent"))


def _has_gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_sessionstart(session):
    # With pytest-xdist (`make test` runs a worker per core) the controller fetches SGLang
    # once, before the workers start: two workers downloading into one cache would race to
    # put the unpacked tree in place, one deleting what the other reads.
    if hasattr(session.config, "workerinput") or not getattr(session.config.option, "numprocesses", None):
        return
    from tools.source_locator import DEFAULT_SGLANG_VERSION, locate_sglang

    locate_sglang(version=DEFAULT_SGLANG_VERSION, use_installed=False)


def pytest_collection_modifyitems(config, items):
    if _has_gpu():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sglang_source():
    """The SGLang release the project is tested against, from the package index."""
    from tools.source_locator import DEFAULT_SGLANG_VERSION, locate_sglang

    return locate_sglang(version=DEFAULT_SGLANG_VERSION, use_installed=False)


@pytest.fixture(scope="session")
def source_index(sglang_source):
    from tools.model_parser.source_index import SourceIndex

    return SourceIndex(sglang_source)


@pytest.fixture(scope="session")
def catalog():
    from tools.model_registry.catalog import Catalog

    return Catalog.load()


@pytest.fixture(scope="session")
def parse(source_index, catalog):
    """parse(model_slug, tp=..., ep=...) -> Inventory, through the real resolver and parser."""
    from tools.model_parser.inventory import parse_model
    from tools.model_parser.runtime import ParallelProfile
    from tools.model_registry.resolver import ModelResolver

    resolver = ModelResolver(source_index.source, catalog)
    cache = {}

    def _parse(slug: str, tp: int = 1, ep: int = 1):
        key = (slug, tp, ep)
        if key not in cache:
            model = resolver.resolve(slug)
            cache[key] = parse_model(source_index, model.model_class.module, model.model_class.architecture, model.config, ParallelProfile(tp=tp, ep=ep))
        return cache[key]

    return _parse


@pytest.fixture(scope="session")
def parse_config(source_index, catalog):
    """parse_config(name, config_path, tp=..., ep=...) -> Inventory for a model given by its
    config.json, as `agent extract --model-name NAME --config PATH` resolves it."""
    from tools.model_parser.inventory import parse_model
    from tools.model_parser.runtime import ParallelProfile
    from tools.model_registry.resolver import ModelResolver

    resolver = ModelResolver(source_index.source, catalog)
    cache = {}

    def _parse(name: str, config_path, tp: int = 1, ep: int = 1):
        key = (name, str(config_path), tp, ep)
        if key not in cache:
            model = resolver.resolve(name, config_path=Path(config_path))
            cache[key] = parse_model(source_index, model.model_class.module, model.model_class.architecture, model.config, ParallelProfile(tp=tp, ep=ep))
        return cache[key]

    return _parse
