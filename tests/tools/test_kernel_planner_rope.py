"""Planning RoPE from real SGLang model code: the rotary class get_rope builds for the
model's config decides the kernel; partial rotary dims and rotation styles name it."""

import json
from pathlib import Path

import pytest

from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_planner import plan_kernels
from tools.kernel_planner.rope import CACHE_KERNEL_CLASSES, OWN_FORWARD
from tools.model_parser.inventory import parse_model
from tools.model_parser.runtime import ParallelProfile
from tools.model_registry.catalog import CATALOG_DIR
from tools.model_registry.resolver import ModelResolver

CONTEXT = BuildContext(model_slug="test")
ROTARY_PACKAGE = Path("srt") / "layers" / "rotary_embedding"


def config(slug):
    return json.loads((CATALOG_DIR / "configs" / f"{slug}.json").read_text())


def ropes(plan):
    return {build_definition(s, CONTEXT)["name"]: s for s in plan.specs if s.family == "rope_with_cos_sin_cache"}


def rope_pending(plan):
    return [p for p in plan.pending if p.kind == "rope" or "RoPE" in p.reason]


@pytest.fixture(scope="module")
def parse_config(source_index, catalog):
    """parse_config(slug, config, tp=...) -> Inventory of the slug's model class for `config`."""
    resolver = ModelResolver(source_index.source, catalog)

    def _parse(slug, cfg, tp=1):
        model = resolver.resolve(slug)
        return parse_model(source_index, model.model_class.module, model.model_class.architecture, cfg, ParallelProfile(tp=tp, ep=1))

    return _parse


def rotary_component(inventory):
    [component] = [c for c in inventory.components if c.kind == "rope"]
    return component


def test_minimax_m2_partial_rotary_dim(parse):
    cfg = config("minimax-m2")
    inventory = parse("minimax-m2", tp=8)
    component = rotary_component(inventory)
    assert component.class_name == "get_rope" and [b.class_name for b in component.builds] == ["RotaryEmbedding"]
    plan = plan_kernels(inventory)
    name = f"rope_with_cos_sin_cache_neox_style_d{cfg['head_dim']}_rd{cfg['rotary_dim']}"
    assert name == "rope_with_cos_sin_cache_neox_style_d128_rd64"  # flashinfer-bench's MiniMax M2 rope
    spec = ropes(plan)[name]
    assert spec.components == ["model.layers.*.self_attn.rotary_emb"] and len(spec.layers) == cfg["num_hidden_layers"]
    assert spec.tp is None  # the head counts are variable axes: one definition at every TP
    assert not rope_pending(plan)


def test_qwen3_next_partial_rotary_factor_scales_the_rotary_dim(parse):
    cfg = config("qwen3-next-80b-a3b")
    inventory = parse("qwen3-next-80b-a3b", tp=4, ep=4)
    built = rotary_component(inventory).builds[0]
    rotary = int(cfg["head_dim"] * cfg["partial_rotary_factor"])  # get_rope scales rotary_dim by the factor
    assert (built.params["head_size"].value, built.params["rotary_dim"].value) == (cfg["head_dim"], rotary) == (256, 64)
    spec = ropes(plan_kernels(inventory))["rope_with_cos_sin_cache_neox_style_d256_rd64"]
    assert spec.layers == [i for i in range(cfg["num_hidden_layers"]) if (i + 1) % cfg["full_attention_interval"] == 0]


@pytest.mark.parametrize("slug, built", [("llama-3.1-8b", "Llama3RotaryEmbedding"), ("llama-4-scout-17b-16e", "Llama3RotaryEmbedding"), ("mistral-7b-v0.3", "RotaryEmbedding")])
def test_scaled_caches_run_the_same_kernel(parse, slug, built):
    # Llama 3.1's rope_scaling (rope_type llama3) picks Llama3RotaryEmbedding; Llama 4 reads it
    # from transformers 5's rope_parameters. Only the cache differs, and the cache is an input.
    inventory = parse(slug, tp=8 if slug.startswith("llama-4") else 1)
    assert [b.class_name for b in rotary_component(inventory).builds] == [built]
    assert set(ropes(plan_kernels(inventory))) == {"rope_with_cos_sin_cache_neox_style_d128_rd128"}


def test_llama_4_rotates_only_in_its_rope_layers(parse):
    inventory = parse("llama-4-scout-17b-16e", tp=8)
    [spec] = ropes(plan_kernels(inventory)).values()
    # Every fourth layer is NoPE (use_rope = (layer_id + 1) % 4 != 0): no rotary embedding there.
    assert spec.layers == [i for i in range(inventory.num_layers) if (i + 1) % 4]


def test_mla_rotates_its_rope_part_gptj_style(parse):
    cfg = config("deepseek-v3")
    inventory = parse("deepseek-v3", tp=8, ep=8)
    assert [b.class_name for b in rotary_component(inventory).builds] == ["DeepseekScalingRotaryEmbedding"]
    assert "rope_interleave" not in cfg  # SGLang: is_neox_style = not config.rope_interleave (default True)
    assert set(ropes(plan_kernels(inventory))) == {f"rope_with_cos_sin_cache_gptj_style_d{cfg['qk_rope_head_dim']}_rd{cfg['qk_rope_head_dim']}"}


def test_the_dsa_indexer_rotates_its_own_q_and_k_neox_style(parse):
    cfg = config("deepseek-v3.2")
    assert "indexer_rope_interleave" not in cfg  # SGLang: the indexer's is_neox_style = not indexer_rope_interleave (default False)
    found = ropes(plan_kernels(parse("deepseek-v3.2", tp=8, ep=8)))
    d = cfg["qk_rope_head_dim"]
    assert set(found) == {f"rope_with_cos_sin_cache_gptj_style_d{d}_rd{d}", f"rope_with_cos_sin_cache_neox_style_d{d}_rd{d}"}
    assert found[f"rope_with_cos_sin_cache_neox_style_d{d}_rd{d}"].components == ["model.layers.*.self_attn.indexer"]


def test_nope_mla_has_no_rope(parse):
    plan = plan_kernels(parse("kimi-linear-48b-a3b", tp=4))  # qk_rope_head_dim 0: SGLang builds no rotary embedding
    assert not ropes(plan) and not rope_pending(plan)


def test_rope_fused_with_the_kv_cache_write_is_pending(parse):
    # Qwen3MoeAttention passes fused_set_kv_buffer_arg: one kernel rotates and writes the cache.
    plan = plan_kernels(parse("qwen3-30b-a3b"))
    assert not ropes(plan)
    [pending] = rope_pending(plan)
    assert pending.path == "model.layers.*.self_attn.rotary_emb" and "fused_set_kv_buffer_arg" in pending.reason
    assert "Qwen3MoeAttention" in pending.reason and pending.location.startswith("sglang/srt/models/qwen3_moe.py:")


def test_a_yarn_scaled_cache_runs_the_kernel(parse_config):
    cfg = {**config("qwen3-8b"), "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}
    inventory = parse_config("qwen3-8b", cfg)
    assert [b.class_name for b in rotary_component(inventory).builds] == ["YaRNScalingRotaryEmbedding"]
    assert set(ropes(plan_kernels(inventory))) == {"rope_with_cos_sin_cache_neox_style_d128_rd128"}


@pytest.mark.parametrize(
    "slug, rope_scaling, built",
    [
        # Phi-3.5-style long-context RoPE: two caches and a PyTorch forward of its own.
        ("phi-4", {"type": "longrope", "short_factor": [1.0] * 64, "long_factor": [2.0] * 64}, "Phi3LongRoPEScaledRotaryEmbedding"),
        # Qwen2-VL-style multimodal RoPE (transformers 5 spelling): Triton over per-section positions.
        ("qwen2.5-7b", {"rope_type": "default", "mrope_section": [16, 24, 24]}, "MRotaryEmbedding"),
    ],
)
def test_a_rotary_class_that_computes_rope_another_way_is_pending(parse_config, slug, rope_scaling, built):
    inventory = parse_config(slug, {**config(slug), "rope_scaling": rope_scaling, "original_max_position_embeddings": 4096})
    assert [b.class_name for b in rotary_component(inventory).builds] == [built]
    plan = plan_kernels(inventory)
    assert not ropes(plan)
    [pending] = rope_pending(plan)
    assert pending.reason.startswith(f"{built} computes RoPE another way") and pending.location.endswith(tuple("0123456789"))


def test_a_head_size_outside_the_kernels_is_pending(parse_config):
    # Phi-3-mini's attention: hidden 3072 over 32 heads, head size 96.
    cfg = {**config("phi-4"), "hidden_size": 3072, "num_attention_heads": 32, "num_key_value_heads": 32}
    plan = plan_kernels(parse_config("phi-4", cfg))
    assert not ropes(plan)
    [pending] = rope_pending(plan)
    assert "head size 96" in pending.reason and "fallback rotary_embedding kernel" in pending.reason


def test_glm_style_partial_gptj_rope(tmp_path, source_index, catalog):
    # A GLM-4-shaped config: SGLang's glm4.py rotates half of each 128-wide head (partial
    # rotary factor 0.5) with GPT-J pairs (is_neox_style=False).
    cfg = {
        "architectures": ["Glm4ForCausalLM"], "model_type": "glm4", "hidden_size": 4096, "num_attention_heads": 32,
        "num_key_value_heads": 2, "head_dim": 128, "partial_rotary_factor": 0.5, "intermediate_size": 13696,
        "num_hidden_layers": 2, "vocab_size": 151552, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": 32768, "attention_bias": True,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    model = ModelResolver(source_index.source, catalog).resolve("glm-4-style", config_path=path)
    inventory = parse_model(source_index, model.model_class.module, model.model_class.architecture, model.config, ParallelProfile(tp=1, ep=1))
    assert set(ropes(plan_kernels(inventory))) == {"rope_with_cos_sin_cache_gptj_style_d128_rd64"}


def _classes_in(path: Path) -> dict[str, tuple[list[str], set[str]]]:
    import ast

    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef):
            bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
            methods = {m.name for m in node.body if isinstance(m, ast.FunctionDef)}
            found[node.name] = (bases, methods)
    return found


def test_the_kernel_classes_are_those_that_inherit_rotary_embeddings_cuda_forward(sglang_source):
    # Read from SGLang's rotary_embedding package: a class runs apply_rope_with_cos_sin_cache_inplace
    # on CUDA when RotaryEmbedding.forward_cuda calls it and nothing on the way overrides forward
    # or forward_cuda.
    classes = {}
    for path in sorted((sglang_source.package_dir / ROTARY_PACKAGE).glob("*.py")):
        classes.update(_classes_in(path))
    assert "apply_rope_with_cos_sin_cache_inplace(" in (sglang_source.package_dir / ROTARY_PACKAGE / "base.py").read_text()

    def inherits_the_cuda_forward(name):
        bases, methods = classes[name]
        if name == "RotaryEmbedding":
            return "forward_cuda" in methods
        if methods & {"forward", "forward_cuda"}:
            return False
        return any(b in classes and inherits_the_cuda_forward(b) for b in bases)

    rotary = {n for n in classes if n.endswith("RotaryEmbedding")}
    assert {n for n in rotary if inherits_the_cuda_forward(n)} == CACHE_KERNEL_CLASSES
    assert set(OWN_FORWARD) == rotary - CACHE_KERNEL_CLASSES
