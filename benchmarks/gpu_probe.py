"""Which FlashInfer entry points run on this GPU, and how long their first call takes.

Run on a GPU machine: `python benchmarks/gpu_probe.py OUT.json`. Each probe builds small
valid inputs, calls the API once (JIT build included) and once more (warm), and records
success or the error. Used to decide which kernels the verifier can check on a machine.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

import torch


def probe(name, fn, results, path):
    started = time.perf_counter()
    try:
        fn()
        torch.cuda.synchronize()
        cold = time.perf_counter() - started
        started = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        results[name] = {"ok": True, "cold_s": round(cold, 2), "warm_s": round(time.perf_counter() - started, 4)}
    except Exception as exc:
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}", "trace": traceback.format_exc(limit=3)[-600:], "s": round(time.perf_counter() - started, 2)}
    print(name, results[name], flush=True)
    with open(path, "w") as handle:
        json.dump(results, handle, indent=2)


def main(path):
    import flashinfer

    dev = "cuda"
    results = {"_env": {"flashinfer": flashinfer.__version__, "torch": torch.__version__, "gpu": torch.cuda.get_device_name(), "cc": list(torch.cuda.get_device_capability())}}
    print(results, flush=True)
    bf = torch.bfloat16
    x = torch.randn(8, 4096, dtype=bf, device=dev)
    w = torch.randn(4096, dtype=bf, device=dev)
    probe("rmsnorm", lambda: flashinfer.norm.rmsnorm(x, w), results, path)
    probe("mm_bf16", lambda: flashinfer.gemm.mm_bf16(x, torch.randn(6144, 4096, dtype=bf, device=dev).T), results, path)
    ws = torch.empty(128 * 1024 * 1024, dtype=torch.uint8, device=dev)

    def decode():
        wrapper = flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper(ws, "NHD")
        indptr = torch.tensor([0, 2, 5], dtype=torch.int32, device=dev)
        indices = torch.arange(5, dtype=torch.int32, device=dev)
        last = torch.tensor([64, 64], dtype=torch.int32, device=dev)
        wrapper.plan(indptr, indices, last, 32, 8, 128, 64, q_data_type=bf, kv_data_type=bf)
        k = torch.randn(6, 64, 8, 128, dtype=bf, device=dev)
        wrapper.run(torch.randn(2, 32, 128, dtype=bf, device=dev), (k, k.clone()), return_lse=True)

    probe("gqa_decode", decode, results, path)

    def mla():
        wrapper = flashinfer.mla.BatchMLAPagedAttentionWrapper(ws)
        qo = torch.tensor([0, 1, 2], dtype=torch.int32, device=dev)
        kv = torch.tensor([0, 2, 4], dtype=torch.int32, device=dev)
        idx = torch.arange(4, dtype=torch.int32, device=dev)
        lens = torch.tensor([128, 128], dtype=torch.int32, device=dev)
        wrapper.plan(qo, kv, idx, lens, 16, 512, 64, 64, False, 0.07, bf, bf)
        wrapper.run(torch.randn(2, 16, 512, dtype=bf, device=dev), torch.randn(2, 16, 64, dtype=bf, device=dev),
                    torch.randn(5, 64, 512, dtype=bf, device=dev), torch.randn(5, 64, 64, dtype=bf, device=dev), return_lse=True)

    probe("mla_paged", mla, results, path)

    def ragged192():
        wrapper = flashinfer.prefill.BatchPrefillWithRaggedKVCacheWrapper(ws, "NHD")
        ind = torch.tensor([0, 5, 9], dtype=torch.int32, device=dev)
        wrapper.plan(ind, ind, 16, 16, 192, head_dim_vo=128, causal=True, q_data_type=bf)
        wrapper.run(torch.randn(9, 16, 192, dtype=bf, device=dev), torch.randn(9, 16, 192, dtype=bf, device=dev), torch.randn(9, 16, 128, dtype=bf, device=dev), return_lse=True)

    probe("mla_ragged_192_128", ragged192, results, path)
    probs = torch.softmax(torch.randn(4, 128256, device=dev), -1)
    probe("top_k_sampling", lambda: flashinfer.sampling.top_k_sampling_from_probs(probs, torch.full((4,), 20, dtype=torch.int32, device=dev)), results, path)
    fp8 = torch.float8_e4m3fn

    def gdn_decode():
        from flashinfer.gdn_decode import gated_delta_rule_decode
        B, H, V, D = 2, 8, 16, 128
        gated_delta_rule_decode(q=torch.randn(B, 1, H, D, dtype=bf, device=dev), k=torch.randn(B, 1, H, D, dtype=bf, device=dev), v=torch.randn(B, 1, V, D, dtype=bf, device=dev),
                                state=torch.zeros(B, V, D, D, device=dev), A_log=torch.randn(V, device=dev), a=torch.randn(B, 1, V, dtype=bf, device=dev),
                                dt_bias=torch.randn(V, dtype=bf, device=dev), b=torch.randn(B, 1, V, dtype=bf, device=dev))

    probe("gdn_decode", gdn_decode, results, path)

    def gdn_prefill():
        from flashinfer.gdn_prefill import chunk_gated_delta_rule
        T, H, V, D = 16, 8, 16, 128
        chunk_gated_delta_rule(q=torch.randn(T, H, D, dtype=bf, device=dev), k=torch.nn.functional.normalize(torch.randn(T, H, D, device=dev), dim=-1).to(bf), v=torch.randn(T, V, D, dtype=bf, device=dev),
                               g=torch.rand(T, V, device=dev), beta=torch.rand(T, V, device=dev), cu_seqlens=torch.tensor([0, 7, 16], dtype=torch.int64, device=dev),
                               initial_state=torch.zeros(2, V, D, D, device=dev))

    probe("gdn_prefill", gdn_prefill, results, path)

    def fp8_block_gemm_sm90():
        a = torch.randn(16, 7168, device=dev).to(fp8)
        b = torch.randn(2112, 7168, device=dev).to(fp8)
        flashinfer.gemm.fp8_blockscale_gemm_sm90(a, b, torch.ones(16, 56, device=dev), torch.ones(17, 56, device=dev))

    probe("fp8_blockscale_gemm_sm90", fp8_block_gemm_sm90, results, path)

    def trtllm_moe():
        from flashinfer.fused_moe import trtllm_fp8_block_scale_moe
        T, E, H, I = 4, 8, 256, 128
        trtllm_fp8_block_scale_moe(torch.randn(T, E, device=dev), None, torch.randn(T, H, device=dev).to(fp8), torch.ones(H // 128, T, device=dev),
                                   torch.randn(E, 2 * I, H, device=dev).to(fp8), torch.ones(E, 2 * I // 128, H // 128, device=dev),
                                   torch.randn(E, H, I, device=dev).to(fp8), torch.ones(E, H // 128, I // 128, device=dev),
                                   E, 2, None, None, I, 0, E, None, routing_method_type=1)

    probe("trtllm_fp8_block_scale_moe", trtllm_moe, results, path)

    def cutlass_moe_fp8_block():
        from flashinfer.fused_moe import cutlass_fused_moe
        T, E, H, I = 4, 8, 256, 128
        out = torch.empty(T, H, dtype=bf, device=dev)
        cutlass_fused_moe(torch.randn(T, H, dtype=bf, device=dev), torch.randint(0, E, (T, 2), dtype=torch.int32, device=dev), torch.rand(T, 2, device=dev),
                          torch.randn(E, 2 * I, H, device=dev).to(fp8), torch.randn(E, H, I, device=dev).to(fp8), bf,
                          quant_scales=[torch.ones(E, 2 * I // 128, H // 128, device=dev), torch.ones(E, H // 128, I // 128, device=dev)],
                          use_deepseek_fp8_block_scale=True, output=out)

    probe("cutlass_fused_moe_fp8_block", cutlass_moe_fp8_block, results, path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "probe.json")
