"""The on-disk cache of parsed SGLang files: same trees and locations, keyed by content."""

from __future__ import annotations

from tools.model_parser.parse_cache import ParseCache
from tools.model_parser.source_index import SourceIndex

MODULE = "sglang.srt.models.llama"


def _locations(index: SourceIndex) -> list[str]:
    parsed = index.module(MODULE)
    return [str(parsed.location(node)) for node in parsed.tree.body]


def test_a_second_index_reads_the_cached_tree_with_the_same_locations(sglang_source, tmp_path):
    cache = ParseCache(tmp_path / "parsed")
    first = SourceIndex(sglang_source, cache)
    expected = _locations(first)
    entries = sorted(p.name for p in (tmp_path / "parsed").iterdir())
    assert len(entries) == 1 and entries[0].endswith(".pickle")
    second = SourceIndex(sglang_source, cache)
    assert _locations(second) == expected
    parsed = second.module(MODULE)
    assert parsed.tree.code == parsed.source, "the cached tree prints back to the file"
    assert parsed.lookup("LlamaForCausalLM").kind == "class"


def test_a_damaged_entry_is_parsed_again_and_replaced(sglang_source, tmp_path):
    cache = ParseCache(tmp_path / "parsed")
    expected = _locations(SourceIndex(sglang_source, cache))
    (entry,) = (tmp_path / "parsed").iterdir()
    entry.write_bytes(b"not a pickle")
    assert _locations(SourceIndex(sglang_source, cache)) == expected
    assert entry.read_bytes() != b"not a pickle"


def test_the_key_is_the_content(tmp_path):
    cache = ParseCache(tmp_path)
    assert cache.load("x = 1\n") is None
    import libcst as cst

    cache.store("x = 1\n", cst.parse_module("x = 1\n"), {})
    assert cache.load("x = 1\n")[0].code == "x = 1\n"
    assert cache.load("x = 2\n") is None
