"""The baseline documents of real models: they validate, cite real lines, and name what extract writes."""

import re

import pytest
from pydantic import TypeAdapter

from tests.tools.baseline.conftest import ACCEPTANCE_MODELS, source_lines
from tests.tools.test_kernel_planner import LLAMA_3_1_8B_OFFICIAL, LLAMA_3_1_8B_ROPE
from tools.baseline.analysis import IMPLEMENTATION_FILE, KERNEL_CALLS_FILE, SNIPPETS_DIR
from tools.baseline.schema import KernelCall, SglangImplementation
from tools.model_parser.inventory import SourceSpan

KERNEL_CALLS = TypeAdapter(list[KernelCall])


def enclosing_class(sglang_source, span: SourceSpan) -> str | None:
    """The top-level class whose body holds the line `span` starts at."""
    lines = (sglang_source.root / span.file).read_text(encoding="utf-8").splitlines()[: span.start_line]
    for line in reversed(lines):
        if match := re.match(r"class (\w+)", line):
            return match.group(1)
        if re.match(r"(def |[A-Za-z_])", line):
            return None
    return None


def span_of(text: str) -> SourceSpan:
    file, start, end = re.fullmatch(r"(.+):(\d+)-(\d+)", text).groups()
    return SourceSpan(file=file, start_line=int(start), end_line=int(end))


@pytest.mark.parametrize("slug", ACCEPTANCE_MODELS)
def test_written_documents_validate(slug, written):
    target = written(slug)
    implementation = SglangImplementation.model_validate_json((target / IMPLEMENTATION_FILE).read_text())
    calls = KERNEL_CALLS.validate_json((target / KERNEL_CALLS_FILE).read_text())
    assert implementation.model_name == slug
    assert implementation.model_file.startswith("python/sglang/srt/models/")
    assert calls
    for call in calls:
        assert (target / call.snippet).is_file(), call.snippet
    assert {p.name for p in (target / SNIPPETS_DIR).iterdir()} == {c.snippet.split("/", 1)[1] for c in calls}


@pytest.mark.parametrize("slug", ACCEPTANCE_MODELS)
def test_every_cited_location_holds_what_it_names(slug, baseline, sglang_source):
    model, analysis = baseline(slug)
    entry = analysis.implementation.class_location
    assert f"class {model.architecture}" in source_lines(sglang_source, entry)[0]
    for call in analysis.kernel_calls:
        constructed = "\n".join(source_lines(sglang_source, call.constructed_at))
        # A parameter-only linear (a router weight) is located at the module that owns it;
        # a layer built by a factory (`get_moe_impl_class(...)(...)`) at its assignment.
        built = call.owner_class if call.component_kind == "linear.parameter" else call.layer_class
        attribute = call.module.removesuffix(".weight").split(".")[-1]
        assert built in constructed or re.search(rf"self\.{attribute}\s*=", constructed), (call.module, call.constructed_at)
        for point in call.baseline.entry_points if call.baseline else []:
            if point.location is None:
                assert not point.found and point.note
                continue
            name = (point.defined_in or point.symbol).split(".")[-1]
            first_line = source_lines(sglang_source, point.location)[0]
            assert re.match(rf"\s*(async\s+)?(def|class) {re.escape(name)}\b", first_line), (point.symbol, point.location)
            if "." in point.symbol:
                assert enclosing_class(sglang_source, point.location) == (point.defined_in or point.symbol).split(".")[0], point.symbol
            if point.call is not None:
                at_call = re.sub(r"\s+", "", "".join(source_lines(sglang_source, point.call.location)))
                assert point.call.callee + "(" in at_call, (point.call.callee, point.call.location)
                assert point.location.start_line <= point.call.location.start_line <= point.location.end_line
        if call.kernel_location is not None:
            innermost = call.baseline.entry_points[-1]
            assert span_of(call.kernel_location) in (innermost.location, innermost.call.location if innermost.call else None)


@pytest.mark.parametrize("slug", ACCEPTANCE_MODELS)
def test_snippet_sections_quote_the_lines_they_name(slug, written, sglang_source):
    for snippet in (written(slug) / SNIPPETS_DIR).iterdir():
        lines = snippet.read_text().splitlines()
        headers = [(i, m) for i, line in enumerate(lines) if (m := re.match(r"# --- .*: (sglang/\S+:\d+-\d+)$", line))]
        assert headers, snippet.name
        for i, match in headers:
            span = span_of(match.group(1))
            quoted = lines[i + 1 : i + 1 + span.end_line - span.start_line + 1]
            assert quoted == source_lines(sglang_source, span), (snippet.name, span)


def test_llama_names_are_the_official_definition_set_and_its_rope(baseline):
    _, analysis = baseline("llama-3.1-8b")
    names = {c.flashinfer_equivalent for c in analysis.kernel_calls if c.flashinfer_equivalent}
    assert names == LLAMA_3_1_8B_OFFICIAL | {LLAMA_3_1_8B_ROPE}


@pytest.mark.parametrize("slug", ACCEPTANCE_MODELS)
def test_kernels_without_a_name_say_why(slug, baseline):
    _, analysis = baseline(slug)
    for call in analysis.kernel_calls:
        assert (call.flashinfer_equivalent is None) == (call.equivalent_status != "defined")
        if call.flashinfer_equivalent is None:
            assert call.reason, call.module


def routes_of(analysis, path):
    return {c.baseline.name: c.baseline for c in analysis.kernel_calls if c.module == path and c.baseline}


@pytest.mark.parametrize("slug", ["deepseek-v3", "kimi-k2"])
def test_mla_and_fp8_experts_go_through_their_backends(slug, baseline):
    _, analysis = baseline(slug)
    mqa = routes_of(analysis, "model.layers.*.self_attn.attn_mqa")
    assert set(mqa) == {"mla.decode", "mla.paged_prefill"}
    assert mqa["mla.decode"].entry_points[-1].symbol == "FlashInferMLAAttnBackend.forward_decode"
    assert set(routes_of(analysis, "model.layers.*.self_attn.attn_mha")) == {"mla.ragged_prefill"}
    [experts] = routes_of(analysis, "model.layers.*.mlp.experts").values()
    symbols = [p.symbol for p in experts.entry_points]
    assert experts.complete and "Fp8MoEMethod.apply" in symbols and symbols[-1] == "MoeRunner.run"


def test_unquantized_experts_go_through_the_unquantized_method(baseline):
    _, analysis = baseline("qwen3-30b-a3b")
    [experts] = routes_of(analysis, "model.layers.*.mlp.experts").values()
    assert experts.name == "moe.experts.unquantized" and experts.complete
    assert "UnquantizedFusedMoEMethod.forward_cuda" in [p.symbol for p in experts.entry_points]
