"""`agent extract` for MLA/MoE models: sharing across models and partial understanding."""

import json
from pathlib import Path

from flashinfer_bench.data import Definition

from agent import exit_codes
from agent.cli import main


def definitions(root: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (root / "definitions").glob("*/*.json")}


def test_kimi_shares_deepseek_norms_and_adds_its_own_attention_and_experts(tmp_path, capsys):
    root = tmp_path / "ds"
    assert main(["extract", "--model-name", "deepseek-v3", "--output", str(root), "--quiet"]) == exit_codes.SUCCESS
    before = definitions(root)
    capsys.readouterr()
    assert main(["extract", "--model-name", "kimi", "--output", str(root), "--quiet", "--json"]) == exit_codes.SUCCESS
    report = json.loads(capsys.readouterr().out)
    after = definitions(root)
    shared = {e["name"] for e in report["entries"] if e["outcome"] == "shared"}
    assert {"rmsnorm_h7168", "fused_add_rmsnorm_h7168", "rmsnorm_h1536", "rmsnorm_h512"} <= shared
    for name in shared:
        assert name in before and "model:kimi-k2" in after[name]["tags"] and "model:deepseek-v3" in after[name]["tags"]
    new = set(after) - set(before)
    assert "moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e384_h7168_i2048" in new  # EP=1
    assert "moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e48_h7168_i2048" in new  # EP=8
    assert "mla_paged_decode_h8_ckv512_kpe64_ps64" in new
    moe = after["moe_fp8_block_scale_ds_routing_topk8_ng1_kg1_e48_h7168_i2048"]
    assert moe["tags"] == ["status:unverified", "model:kimi-k2", "quantization:float8_e4m3fn", "fi_api:flashinfer.fused_moe.trtllm_fp8_block_scale_moe", "ep:8", "tp:8"]
    assert report["model"] == "kimi-k2" and "alias" in report["chosen_because"]


def test_a_partly_understood_model_writes_what_it_can_and_lists_the_rest(tmp_path, capsys):
    root = tmp_path / "ds"
    status = main(["extract", "--model-name", "kimi-linear-48b-a3b", "--output", str(root), "--quiet", "--json"])
    assert status == exit_codes.INCOMPLETE
    report = json.loads(capsys.readouterr().out)
    pending = [e for e in report["entries"] if e["outcome"] == "pending"]
    # The KDA layers' two batched low-rank projections have no kernel mapping.
    assert {e["name"] for e in pending} == {"model.layers.*.self_attn.fused_fg_b_proj", "model.layers.*.self_attn.fused_qkvbfg_a_proj"}
    assert all("sglang/srt/models/kimi_linear.py:" in e["note"] for e in pending)
    written = definitions(root)
    assert any(name.startswith("mla_paged_decode") for name in written)
    assert {"kda_prefill_qk8_v8_d128_k_last", "kda_decode_qk8_v8_d128_k_last"} <= set(written)
    for name in ("kda_prefill_qk8_v8_d128_k_last", "kda_decode_qk8_v8_d128_k_last"):
        path = root / "definitions" / "kda" / f"{name}.json"
        assert Definition.model_validate_json(path.read_text()).name == name
        assert "model:kimi-linear-48b-a3b" in written[name]["tags"]


def test_minimax_m2_rope_on_disk_and_a_rope_fused_elsewhere_left_pending(tmp_path, capsys):
    import torch
    from flashinfer_bench.data import Definition

    from tools.verification.execution import load_reference

    root = tmp_path / "ds"
    # Pending: only MiniMax M2's model-local q/k norms (RMSNorm across TP ranks in their own forward).
    assert main(["extract", "--model-name", "minimax-m2", "--output", str(root), "--quiet"]) == exit_codes.INCOMPLETE
    (report,) = (root / "reports").glob("extract-minimax-m2-*.json")
    pending = [e for e in json.loads(report.read_text())["entries"] if e["outcome"] == "pending"]
    assert {e["name"] for e in pending} == {"model.layers.*.self_attn.q_norm", "model.layers.*.self_attn.k_norm"}
    assert all("MiniMaxM2RMSNormTP" in e["note"] for e in pending)
    path = root / "definitions" / "rope" / "rope_with_cos_sin_cache_neox_style_d128_rd64.json"
    written = json.loads(path.read_text())
    assert Definition.model_validate(written).const_axes == {"head_size": 128, "rotary_dim": 64}
    # rope_with_cos_sin_cache_neox_style_d128_rd64.json's tags: no parallel tags on rope.
    assert written["tags"] == ["status:unverified", "model:minimax-m2", "fi_api:flashinfer.rope.apply_rope_with_cos_sin_cache_inplace"]
    # The written reference, by hand: at a position whose angles are all 90 degrees, NeoX pair
    # (x_i, x_{i+32}) becomes (-x_{i+32}, x_i) in channels 0-63; channels 64-127 pass unchanged.
    run = load_reference(written["reference"], written["name"])
    q = torch.arange(2 * 128, dtype=torch.bfloat16).reshape(1, 2, 128)
    k = torch.arange(128, dtype=torch.bfloat16).reshape(1, 1, 128)
    cache = torch.tensor([[1.0] * 32 + [0.0] * 32, [0.0] * 32 + [1.0] * 32])
    q_out, k_out = run(q, k, cache, torch.tensor([1]))
    for x, out in ((q, q_out), (k, k_out)):
        want = torch.cat([-x[..., 32:64], x[..., :32], x[..., 64:]], dim=-1)
        assert torch.equal(out, want)

    capsys.readouterr()
    status = main(["extract", "--model-name", "qwen3-30b-a3b", "--output", str(root), "--quiet", "--json"])
    assert status == exit_codes.INCOMPLETE
    report = json.loads(capsys.readouterr().out)
    [rope] = [e for e in report["entries"] if e["outcome"] == "pending"]
    assert "fused_set_kv_buffer_arg" in rope["note"] and "sglang/srt/models/qwen3_moe.py:" in rope["note"]
    assert [p.name for p in (root / "definitions" / "rope").iterdir()] == [path.name]
