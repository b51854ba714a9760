"""`agent baseline`'s files, read with the format flashinfer-bench documents for them."""

import json
import re

import flashinfer
import pytest
from pydantic import TypeAdapter, ValidationError

from tests.tools.baseline.conftest import ACCEPTANCE_MODELS
from tools.baseline.analysis import IMPLEMENTATION_FILE, KERNEL_CALLS_FILE
from tools.baseline.documented_format import ForwardLayer, KernelCallsFile, SglangImplementationFile
from tools.baseline.schema import KernelCall, SglangImplementation
from tools.model_registry.catalog import CATALOG_DIR

DENSE, MLA_MOE, HYBRID = "llama-3.1-8b", "kimi-k2", "qwen3-next-80b-a3b"
ENTRY_FIELDS = {"module", "kernel", "baseline_impl", "flashinfer_equivalent", "code_location"}


def config_of(slug):
    return json.loads((CATALOG_DIR / "configs" / f"{slug}.json").read_text())


def documented(target):
    """The two files as a tool written against the documented format reads them."""
    calls = KernelCallsFile.model_validate_json((target / KERNEL_CALLS_FILE).read_text()).root
    implementation = SglangImplementationFile.model_validate_json((target / IMPLEMENTATION_FILE).read_text())
    return calls, implementation


def project(target):
    """The same files with the project's own models (the documented fields and the rest)."""
    calls = TypeAdapter(list[KernelCall]).validate_json((target / KERNEL_CALLS_FILE).read_text())
    return calls, SglangImplementation.model_validate_json((target / IMPLEMENTATION_FILE).read_text())


def srt_lines(sglang_source, location):
    """The lines a `code_location` (`models/llama.py:366-366`) names."""
    file, start, end = re.fullmatch(r"(.+):(\d+)-(\d+)", location).groups()
    lines = (sglang_source.root / "sglang" / "srt" / file).read_text(encoding="utf-8").splitlines()
    return lines[int(start) - 1 : int(end)]


@pytest.mark.parametrize("slug", [DENSE, MLA_MOE, HYBRID])
def test_written_files_load_with_the_documented_format(slug, written):
    target = written(slug)
    raw_calls = json.loads((target / KERNEL_CALLS_FILE).read_text())
    assert isinstance(raw_calls, list) and raw_calls
    for entry in raw_calls:
        assert ENTRY_FIELDS <= entry.keys(), entry
    raw = json.loads((target / IMPLEMENTATION_FILE).read_text())
    assert {"model_name", "model_file", "class_name", "forward_pass_structure", "kernel_calls"} <= raw.keys()
    assert {"embedding", "layers", "final_norm", "lm_head"} <= raw["forward_pass_structure"].keys()
    calls, implementation = documented(target)
    assert len(calls) == len(raw_calls)
    assert implementation.model_name == slug
    assert implementation.forward_pass_structure.layers and implementation.kernel_calls


@pytest.mark.parametrize("slug", ACCEPTANCE_MODELS)
def test_flashinfer_equivalents_are_exactly_the_definitions_extract_writes(slug, written, extract_names):
    calls, _ = documented(written(slug))
    extracted = extract_names(slug)
    assert extracted
    assert {c.flashinfer_equivalent for c in calls if c.flashinfer_equivalent is not None} == extracted


@pytest.mark.parametrize("slug", [DENSE, MLA_MOE, HYBRID])
def test_model_file_and_code_locations_are_where_the_model_builds_its_modules(slug, written, sglang_source):
    calls, implementation = project(written(slug))
    model_file = (sglang_source.root / implementation.model_file.removeprefix("python/")).read_text(encoding="utf-8")
    assert re.search(rf"^class {implementation.class_name}\b", model_file, re.M)
    starts = {}
    for call in calls:
        built = "\n".join(srt_lines(sglang_source, call.code_location))
        # A router weight (a bare parameter) is located where its owning module is built;
        # a module a helper builds, at the helper's constructor call.
        attribute = call.module.removesuffix(".weight").split(".")[-1]
        assert re.search(rf"self\.{attribute}\s*(:[^=]*)?=", built) or f"{call.layer_class}(" in built, (call.module, call.code_location)
        file, start = re.match(r"(.+):(\d+)-", call.code_location).groups()
        starts.setdefault(call.module, set()).add((file, int(start)))
    for found in implementation.kernel_calls:  # `line N` of the model file, or of the file it names
        file, line = re.fullmatch(r"(?:(\S+) )?line (\d+)", found.location).groups()
        assert (file or implementation.model_file.removeprefix("python/sglang/srt/"), int(line)) in starts[found.module], found
@pytest.mark.parametrize("slug", [DENSE, MLA_MOE, HYBRID])
def test_baseline_impl_is_a_class_or_function_sglang_defines(slug, written, sglang_source):
    calls, _ = documented(written(slug))
    resolved = [c for c in calls if c.baseline_impl is not None]
    assert len(resolved) > len(calls) // 2
    for call in resolved:
        module, name = call.baseline_impl.rsplit(".", 1)
        base = sglang_source.root.joinpath(*module.split("."))
        text = (base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py").read_text(encoding="utf-8")
        assert re.search(rf"^(class|def) {name}\b", text, re.M), call.baseline_impl


@pytest.mark.parametrize("slug", [DENSE, MLA_MOE, HYBRID])
def test_kernel_is_the_call_at_the_end_of_a_complete_route(slug, written, sglang_source):
    calls, _ = project(written(slug))
    for call in calls:
        if call.baseline is None or not call.baseline.complete:
            assert call.kernel is None, call.module  # never named from a route not followed to its end
            continue
        file, start, end = re.fullmatch(r"(.+):(\d+)-(\d+)", call.kernel_location).groups()
        at_call = "".join((sglang_source.root / file).read_text().splitlines()[int(start) - 1 : int(end)])
        assert call.kernel.rsplit(".", 1)[-1] + "(" in re.sub(r"\s+", "", at_call), (call.kernel, call.kernel_location)
        if call.kernel.startswith("flashinfer."):  # a FlashInfer API, as the installed FlashInfer has it
            target = flashinfer
            for part in call.kernel.split(".")[1:]:
                target = getattr(target, part)


def test_dense_entries_name_the_layer_class_and_its_kernel(written, sglang_source):
    calls, implementation = documented(written(DENSE))
    norm = [c for c in calls if c.module == "model.layers.*.input_layernorm"]
    assert {c.baseline_impl for c in norm} == {"sglang.srt.layers.layernorm.RMSNorm"}
    assert "self.input_layernorm = RMSNorm(" in srt_lines(sglang_source, norm[0].code_location)[0]
    decode = [c for c in calls if c.flashinfer_equivalent and c.flashinfer_equivalent.startswith("gqa_paged_decode_")]
    assert decode and {c.kernel for c in decode} == {"flashinfer.BatchDecodeWithPagedKVCacheWrapper.forward"}
    structure = implementation.forward_pass_structure
    assert (structure.embedding, structure.final_norm, structure.lm_head) == ("model.embed_tokens", "model.norm", "lm_head")
    names = [layer.name for layer in structure.layers]
    assert names.index("self_attn.qkv_proj") < names.index("self_attn.attn") < names.index("mlp.down_proj")


@pytest.mark.parametrize("slug", [DENSE, MLA_MOE, HYBRID])
def test_layer_kernels_are_those_of_the_modules_entries(slug, written):
    calls, implementation = project(written(slug))
    first = [c for c in calls if (c.tp, c.ep) == (implementation.tp, implementation.ep)]
    for layer in implementation.forward_pass_structure.layers:
        entries = [c for c in first if c.module.endswith(".*." + layer.name) and c.layers == layer.layers]
        assert entries, layer.name
        expected = list(dict.fromkeys(c.kernel for c in entries if c.kernel is not None))
        assert (layer.kernel, layer.kernels) == ((expected[0], None) if len(expected) == 1 else (None, expected)), layer.name


@pytest.mark.parametrize(("slug", "attention"), [(DENSE, "self_attn.attn"), (MLA_MOE, "self_attn.attn_mqa")])
def test_kernel_calls_carry_the_resolved_attention_dimensions(slug, attention, written):
    cfg = config_of(slug)
    _, implementation = project(written(slug))
    tp = implementation.tp
    found = [k for k in implementation.kernel_calls if k.module == f"model.layers.*.{attention}"]
    assert found
    for call in found:
        assert call.function.startswith("flashinfer.") and call.location.startswith("line ")
        assert call.parameters["num_heads"] == cfg["num_attention_heads"] // tp
    if slug == DENSE:
        assert {k.parameters["num_kv_heads"] for k in found} == {cfg["num_key_value_heads"] // tp}
        assert {k.parameters["head_dim"] for k in found} == {cfg["hidden_size"] // cfg["num_attention_heads"]}
    else:  # the absorbed MLA attention reads one latent KV head of the compressed cache and its rope part
        assert {k.parameters["num_kv_heads"] for k in found} == {1}
        assert {k.parameters["head_dim"] for k in found} == {cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"]}


def test_hybrid_layers_say_which_layers_use_which_attention(written):
    cfg = config_of(HYBRID)
    _, implementation = project(written(HYBRID))
    layers = {layer.name: layer.layers for layer in implementation.forward_pass_structure.layers}
    full = [i for i in range(cfg["num_hidden_layers"]) if (i + 1) % cfg["full_attention_interval"] == 0]
    assert layers["attn"] == full
    assert layers["linear_attn.attn"] == [i for i in range(cfg["num_hidden_layers"]) if i not in full]
    # Its MoE blocks come from Qwen2-MoE's file: located there, not in the model file.
    assert any(k.location.startswith("models/qwen2_moe.py line ") for k in implementation.kernel_calls)


@pytest.mark.parametrize("slug", [MLA_MOE, HYBRID])
def test_the_top_level_describes_the_first_profile_and_the_others_follow(slug, baseline, written):
    model, analysis = baseline(slug)
    _, implementation = project(written(slug))
    profiles = [(p.tp, p.ep) for p in implementation.profiles]
    assert len(profiles) > 1
    assert [(implementation.tp, implementation.ep)] + [(p.tp, p.ep) for p in implementation.other_profiles] == profiles
    assert {(c.tp, c.ep) for c in analysis.kernel_calls} == set(profiles)


def test_a_layer_carries_kernel_or_kernels_never_both():
    with pytest.raises(ValidationError, match="exactly one of"):
        ForwardLayer(name="input_layernorm", type="RMSNorm")
    with pytest.raises(ValidationError, match="exactly one of"):
        ForwardLayer(name="input_layernorm", type="RMSNorm", kernel="a", kernels=["b"])
    assert ForwardLayer(name="n", type="T", kernel="a").model_dump() == {"name": "n", "type": "T", "kernel": "a"}
    assert ForwardLayer(name="n", type="T", kernels=[]).model_dump() == {"name": "n", "type": "T", "kernels": []}


def test_the_documented_shape_loads_and_a_missing_field_does_not():
    entry = {"module": "norm", "kernel": "k", "baseline_impl": "pkg.Norm", "flashinfer_equivalent": None, "code_location": "models/m.py:1-2"}
    assert KernelCallsFile.model_validate([entry]).root[0].flashinfer_equivalent is None
    with pytest.raises(ValidationError, match="code_location"):
        KernelCallsFile.model_validate([{k: v for k, v in entry.items() if k != "code_location"}])
    with pytest.raises(ValidationError):
        KernelCallsFile.model_validate({"kernel_calls": [entry]})  # an object around the list is not the format
    implementation = {
        "model_name": "m", "model_file": "python/sglang/srt/models/m.py", "class_name": "M",
        "forward_pass_structure": {
            "embedding": "embed", "final_norm": "norm", "lm_head": "head",
            "layers": [{"name": "norm", "type": "RMSNorm", "kernel": "k"}, {"name": "attn", "type": "A", "kernels": ["d", "p"]}],
        },
        "kernel_calls": [{"function": "d", "location": "line 3", "parameters": {"num_heads": 4, "q": "query"}}],
    }
    assert SglangImplementationFile.model_validate(implementation).forward_pass_structure.layers[1].kernels == ["d", "p"]
