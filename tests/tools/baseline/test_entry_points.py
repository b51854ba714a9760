"""Finding route steps in SGLang's sources: inherited methods, call sites, absent steps."""

import shutil

import pytest

from tests.tools.baseline.conftest import locator_for, source_lines
from tools.baseline.entry_points import module_of_file
from tools.baseline.routes import ROUTES
from tools.model_parser.source_index import SourceIndex
from tools.source_locator import SglangSource


def component(inventory, path):
    [found] = [c for c in inventory.components if c.path == path]
    return found


@pytest.fixture(scope="module")
def llama(parse):
    return parse("llama-3.1-8b")


def test_module_of_file():
    assert module_of_file("sglang/srt/models/llama.py") == "sglang.srt.models.llama"
    assert module_of_file("sglang/srt/layers/moe/__init__.py") == "sglang.srt.layers.moe"


def test_inherited_forward_is_cited_where_it_is_defined(source_index, llama, sglang_source):
    qkv = component(llama, "model.layers.*.self_attn.qkv_proj")
    route = locator_for(source_index).route(ROUTES["linear.unquantized"], qkv)
    layer, gemm = route.entry_points
    assert layer.symbol == "QKVParallelLinear.forward" and layer.defined_in == "ColumnParallelLinear.forward"
    assert layer.location.file == "sglang/srt/layers/linear.py"
    assert "def forward" in source_lines(sglang_source, layer.location)[0]
    assert gemm.call.callee == "F.linear" and gemm.call.resolves_to == ["torch.nn.functional.linear"]
    assert route.complete


def test_norm_kernels_resolve_to_the_library_that_provides_them(source_index, llama):
    norm = component(llama, "model.norm")
    locator = locator_for(source_index)
    [plain] = locator.route(ROUTES["norm.rmsnorm"], norm).entry_points
    [fused] = locator.route(ROUTES["norm.fused_add_rmsnorm"], norm).entry_points
    assert plain.symbol == fused.symbol == "RMSNorm.forward_cuda"
    assert "sgl_kernel.rmsnorm" in plain.call.resolves_to
    assert "sgl_kernel.fused_add_rmsnorm" in fused.call.resolves_to
    assert plain.call.location != fused.call.location


def test_rope_follows_get_rope_to_the_class_it_builds(source_index, llama, sglang_source):
    rope = component(llama, "model.layers.*.self_attn.rotary_emb")
    route = locator_for(source_index).route(ROUTES["rope"], rope)
    factory, forward = route.entry_points
    assert factory.symbol == "get_rope" and factory.module == "sglang.srt.layers.rotary_embedding.factory"
    # get_rope builds Llama3RotaryEmbedding for Llama 3.1; its CUDA forward is RotaryEmbedding's.
    assert forward.symbol == "Llama3RotaryEmbedding.forward_cuda" and forward.defined_in == "RotaryEmbedding.forward_cuda"
    assert forward.call.callee == "apply_rope_with_cos_sin_cache_inplace"
    assert "apply_rope_with_cos_sin_cache_inplace(" in "\n".join(source_lines(sglang_source, forward.call.location))
    assert route.complete


def test_attention_decode_reaches_the_flashinfer_decode_wrapper(source_index, llama):
    attn = component(llama, "model.layers.*.self_attn.attn")
    route = locator_for(source_index).route(ROUTES["attention.decode"], attn)
    assert route.complete
    by_symbol = {p.symbol: p for p in route.entry_points}
    assert by_symbol["FlashInferAttnBackend.forward"].defined_in == "AttentionBackend.forward"
    wrapper = by_symbol["FlashInferAttnBackend.__init__"].call
    assert wrapper.callee == "BatchDecodeWithPagedKVCacheWrapper"
    assert any(r.startswith("flashinfer.") and r.endswith(".BatchDecodeWithPagedKVCacheWrapper") for r in wrapper.resolves_to)
    assert route.entry_points[-1].call.callee == "decode_wrapper.forward"


def test_a_step_sglang_does_not_have_is_reported_not_guessed(source_index, llama):
    # SGLang 0.5.23's sampler calls only the joint top-k/top-p kernel.
    logits = component(llama, "logits_processor")
    route = locator_for(source_index).route(ROUTES["sampling.top_k_sampling_from_probs"], logits)
    assert not route.complete
    last = route.entry_points[-1]
    assert not last.found and last.call is None
    assert "top_k_sampling_from_probs" in last.note and "0.5.23" in last.note


@pytest.fixture(scope="module")
def patched_index(tmp_path_factory, sglang_source):
    """A copy of the SGLang sources with entry points renamed or removed."""
    copy = tmp_path_factory.mktemp("sglang-copy")
    shutil.copytree(sglang_source.root / "sglang", copy / "sglang")
    layers = copy / "sglang" / "srt" / "layers"
    backend = layers / "attention" / "flashinfer_backend.py"
    backend.write_text(backend.read_text().replace("def forward_decode(", "def forward_decode_renamed("))
    norms = layers / "layernorm.py"
    norms.write_text(norms.read_text().replace("def forward_cuda(", "def forward_gpu("))
    (layers / "attention" / "flashinfer_mla_backend.py").unlink()
    return SourceIndex(SglangSource(root=copy, version="patched", origin="path"))


def test_an_entry_point_missing_from_the_release_read_says_so(patched_index, llama):
    route = locator_for(patched_index).route(ROUTES["attention.decode"], component(llama, "model.layers.*.self_attn.attn"))
    *reached, last = route.entry_points
    assert all(p.found for p in reached)
    # Only the abstract method of the base class is left, and it calls no wrapper.
    assert not route.complete and not last.found and last.call is None
    assert last.defined_in == "AttentionBackend.forward_decode"
    assert last.note == r"no call matching decode_wrapper\.forward in AttentionBackend.forward_decode (SGLang patched)"


def test_a_method_no_class_defines_is_reported(patched_index, llama):
    # RMSNorm's `forward` comes from a base class outside sglang/srt/, which is not read.
    [step] = locator_for(patched_index).route(ROUTES["norm.rmsnorm"], component(llama, "model.norm")).entry_points
    assert not step.found and step.location is None
    assert step.note == "RMSNorm has no method forward_cuda or _forward_impl or forward in SGLang patched"


def test_a_missing_module_is_reported(patched_index, llama):
    route = locator_for(patched_index).route(ROUTES["mla.decode"], component(llama, "model.layers.*.self_attn.attn"))
    missing = [p for p in route.entry_points if not p.found]
    assert missing and all(p.note for p in missing)
    assert "module sglang.srt.layers.attention.flashinfer_mla_backend is not in SGLang patched" in [p.note for p in missing]
