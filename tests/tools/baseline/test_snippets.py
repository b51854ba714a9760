"""Quoted source sections: one file per component, long definitions cut to the call."""

from tests.tools.baseline.conftest import locator_for
from tools.baseline.routes import ROUTES
from tools.baseline.snippets import CALL_CONTEXT, render_snippet, snippet_filename
from tools.model_parser.inventory import Component


def test_file_names_are_unique_per_component():
    taken = set()
    a = Component(path="model.layers.*.mlp", kind="activation", class_name="SiluAndMul", owner_class="M", parent_role="nested")
    assert snippet_filename(a, taken) == "model.layers.N.mlp__SiluAndMul.py"
    assert snippet_filename(a, taken) == "model.layers.N.mlp__SiluAndMul_2.py"
    param = Component(path="model.layers.*.gate.weight", kind="linear.parameter", class_name="nn.Parameter", owner_class="M", parent_role="nested")
    assert snippet_filename(param, taken) == "model.layers.N.gate.weight__nn_Parameter.py"


def test_a_long_definition_is_quoted_around_its_call(parse, source_index):
    [attn] = [c for c in parse("llama-3.1-8b").components if c.path == "model.layers.*.self_attn.attn"]
    locator = locator_for(source_index)
    route = locator.route(ROUTES["attention.decode"], attn)
    text = render_snippet(attn, [route], source_index, locator, model="llama-3.1-8b")
    init = next(p for p in route.entry_points if p.symbol == "FlashInferAttnBackend.__init__")
    assert init.location.end_line - init.location.start_line > 100  # long enough to be cut
    header = next(line for line in text.splitlines() if "FlashInferAttnBackend.__init__" in line)
    assert f"around the call BatchDecodeWithPagedKVCacheWrapper (definition {init.location})" in header
    start = init.call.location.start_line - CALL_CONTEXT
    assert header.endswith(f"{init.location.file}:{start}-{init.call.location.end_line + CALL_CONTEXT}")
    assert text.startswith("# llama-3.1-8b: model.layers.*.self_attn.attn (RadixAttention, attention.radix)")
    assert "# --- constructor call (built by LlamaAttention): sglang/srt/models/llama.py:" in text
