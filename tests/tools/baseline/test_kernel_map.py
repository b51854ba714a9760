"""Components -> their kernels and definition names, through the real planner and builder."""

from tools.baseline.kernel_map import DefinitionNames, component_kernels
from tools.definition_builder.builder import BuildContext
from tools.kernel_planner import PlanOptions, plan_kernels
from tools.model_parser.inventory import Component, Inventory, ParamValue

NAMES = DefinitionNames(BuildContext(model_slug="test"))


def norm(path, hidden, layers, role="nested", handed_to=()):
    # Called on the hidden states alone unless handed to SGLang's residual stream.
    return Component(
        path=path, kind="norm.rmsnorm", class_name="RMSNorm", owner_class="Owner", parent_role=role,
        params={"hidden_size": ParamValue(value=hidden)}, layers=layers,
        calls=[] if handed_to else [(1, [])], handed_to=list(handed_to),
    )


def inventory(*components):
    return Inventory(model_file="m.py", entry_class="M", sglang_version="test", tp=1, ep=1, num_layers=4, components=list(components))


def test_components_sharing_a_path_keep_their_own_kernels():
    # The same module path built with different widths in different layers (as hybrid models do).
    wide, narrow = norm("model.layers.*.mlp.norm", 4096, [0, 1]), norm("model.layers.*.mlp.norm", 2048, [2, 3])
    kernels = component_kernels(inventory(wide, narrow), PlanOptions(), NAMES)
    by_component = {id(k.component): k.definition_name for k in kernels}
    assert by_component == {id(wide): "rmsnorm_h4096", id(narrow): "rmsnorm_h2048"}


def test_a_residual_stream_norm_runs_both_norm_kernels():
    stage = norm("model.layers.*.input_layernorm", 1024, [0, 1], role="decoder_layer", handed_to=["append_stages"])
    names = [k.definition_name for k in component_kernels(inventory(stage), PlanOptions(), NAMES)]
    assert sorted(names) == ["fused_add_rmsnorm_h1024", "rmsnorm_h1024"]


def test_pending_components_carry_the_planners_reason(parse):
    deepseek = parse("deepseek-v3", tp=8, ep=8)
    kernels = component_kernels(deepseek, PlanOptions(), NAMES)
    pending = {p.path: p.reason for p in plan_kernels(deepseek).pending}
    for kernel in kernels:
        if kernel.status == "pending":
            assert kernel.definition_name is None and kernel.reason == pending[kernel.component.path]
    assert {k.component.path for k in kernels if k.status == "pending"} == set(pending)


def test_skipped_components_carry_the_skip_reason(parse):
    llama = parse("llama-3.1-8b")
    skipped = {s.path: s.reason for s in plan_kernels(llama).skipped}
    kernels = [k for k in component_kernels(llama, PlanOptions(), NAMES) if k.status == "skipped"]
    assert {k.component.path: k.reason for k in kernels} == skipped
    assert "model.embed_tokens" in skipped and "lm_head" in skipped
