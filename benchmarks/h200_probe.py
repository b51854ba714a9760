"""Which SM90 FlashInfer routes compute the Hopper-unverified families' math, checked on small inputs.

Phase-1 probe for issue 15 (routes: /work/shared/research/hopper-verification.md). Run on the H200 after
`source .device-bundle/install.sh` (call A) and again after also sourcing `.device-bundle-dsl/install.sh`
(call B, `--only dsl`); `benchmarks/h200_probe.sh` does both. Each probe group runs in a subprocess of
its own with a time limit, so one hang or one CUDA fault cannot take the others down. Every result is one
JSON line on stdout (prefix `PROBE `) and in $OUT/probe.jsonl: ok/error with the full exception text, the
first call's time (JIT build included) apart from the warm run time, and the largest absolute and
relative errors against a float32 torch reference written here.

    python benchmarks/h200_probe.py [--only GROUP,...] [--out DIR]
    python benchmarks/h200_probe.py --dry-run        # CPU: every reference side, the kernel calls skipped

Groups: fp8_gemm, routing, moe_build, fp16_gemm, dsa_mla, dsa_topk, gdn_decode, gdn_mtp, gdn_prefill,
kda (the last four form `dsl`; `nodsl` is the rest). Environment: PROBE_DEADLINE_S (whole run, default
540), PROBE_TIMEOUT_S (per group, default 240), PROBE_PARALLEL (groups at once, default 3),
PROBE_MOE_BUILD_S (how long the fused_moe_90 build may run, default 240), PROBE_MOE_BUILD_KEEP=1 (leave
the build running after the limit, in its own session), PROBE_MOE_JOBS (its ninja -j, default 8, leaving cores to the
other probes' builds).
Imports only torch, flashinfer and the standard library.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import glob
import importlib
import importlib.metadata
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

PREFIX = "PROBE "
FP8 = torch.float8_e4m3fn
BF16 = torch.bfloat16
DSL_GROUPS = ["gdn_decode", "gdn_mtp", "gdn_prefill", "kda"]
NODSL_GROUPS = ["fp8_gemm", "routing", "fp16_gemm", "dsa_mla", "dsa_topk"]


# ----------------------------------------------------------------------------------------------------------
# Reporting helpers (run inside a group's subprocess)


def emit(record: dict) -> None:
    print(PREFIX + json.dumps(record, default=str), flush=True)


def errors(out: torch.Tensor, ref: torch.Tensor) -> dict:
    """Largest absolute error, the reference's largest magnitude, their ratio and the worst elementwise
    relative error (|d| / (|ref| + 1e-3 * max|ref|), so zeros in the reference do not blow it up)."""
    out, ref = out.detach().float().cpu(), ref.detach().float().cpu()
    if out.shape != ref.shape:
        return {"shape_mismatch": [list(out.shape), list(ref.shape)]}
    diff = (out - ref).abs()
    scale = ref.abs().max().item() if ref.numel() else 0.0
    finite = bool(torch.isfinite(out).all())
    return {
        "max_abs_err": round(diff.max().item(), 6) if ref.numel() else 0.0,
        "max_abs_ref": round(scale, 6),
        "max_err_over_max_ref": round(diff.max().item() / scale, 6) if scale else None,
        "max_rel_err": round((diff / (ref.abs() + 1e-3 * scale + 1e-12)).max().item(), 6) if ref.numel() else 0.0,
        "mean_abs_err": round(diff.mean().item(), 6) if ref.numel() else 0.0,
        "all_finite": finite,
    }


def timed(fn, dry: bool, warm_runs: int = 3):
    """(result, cold seconds, warm seconds): the first call includes any JIT build; warm is the median of a
    few more calls. `fn` must be safe to call again (in-place kernels get fresh inputs inside fn)."""
    sync = (lambda: None) if dry else torch.cuda.synchronize
    start = time.perf_counter()
    result = fn()
    sync()
    cold = time.perf_counter() - start
    warm = []
    for _ in range(0 if dry else warm_runs):
        start = time.perf_counter()
        fn()
        sync()
        warm.append(time.perf_counter() - start)
    warm_s = sorted(warm)[len(warm) // 2] if warm else None
    return result, round(cold, 3), (round(warm_s, 6) if warm_s is not None else None)


def run_case(group: str, case: str, body, **extra) -> None:
    """Run one probe case; body() returns a dict of findings. Any exception becomes ok=False with the full
    traceback; the case never raises."""
    start = time.perf_counter()
    record = {"group": group, "case": case, **extra}
    try:
        record.update(body())
        record.setdefault("ok", True)
    except Exception as exc:  # the point of a probe: report, go on
        record.update(ok=False, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["case_s"] = round(time.perf_counter() - start, 3)
    emit(record)


def verdict(err: dict, tol: float) -> bool:
    value = err.get("max_err_over_max_ref")
    return bool(err.get("all_finite")) and value is not None and value <= tol


# ----------------------------------------------------------------------------------------------------------
# a. FP8 block-scale GEMM on SM90 (fp8_blockscale_gemm_sm90)


def round_up(x: int, m: int) -> int:
    return (x + m - 1) // m * m


def probe_fp8_gemm(dev: str, dry: bool) -> None:
    n, k = 256, 512
    gen = torch.Generator().manual_seed(0)
    b_fp8 = (torch.randn(n, k, generator=gen) * 100).clamp(-440, 440).to(FP8)
    # Non-uniform per-block scales, spanning a factor ~64, so a wrong layout or block cannot pass.
    b_scale = torch.exp2(torch.randint(-12, -6, (n // 128, k // 128), generator=gen).float()) * (
        1 + torch.rand(n // 128, k // 128, generator=gen)
    )
    b_deq = b_fp8.float() * b_scale.repeat_interleave(128, 0).repeat_interleave(128, 1)[:n]
    for m in (7, 64, 1, 200):  # one swap-AB (M < 32) and one normal shape first, in case time runs out
        a_fp8 = (torch.randn(m, k, generator=gen) * 100).clamp(-440, 440).to(FP8)
        a_scale = torch.exp2(torch.randint(-10, -4, (m, k // 128), generator=gen).float()) * (
            1 + torch.rand(m, k // 128, generator=gen)
        )
        ref = (a_fp8.float() * a_scale.repeat_interleave(128, 1)) @ b_deq.T
        layouts = {
            "row_major_MxK128": a_scale.contiguous(),
            "mn_major_K128xM4": torch.zeros(k // 128, round_up(m, 4)).index_copy_(
                1, torch.arange(m), a_scale.T.contiguous()
            ),
        }
        for name, scale in layouts.items():

            def body(scale=scale, a_fp8=a_fp8, ref=ref):
                if dry:
                    out, cold, warm = ref, 0.0, None
                else:
                    from flashinfer.gemm import fp8_blockscale_gemm_sm90

                    a, b = a_fp8.to(dev), b_fp8.to(dev)
                    sa, sb = scale.to(dev), b_scale.to(dev)
                    out, cold, warm = timed(lambda: fp8_blockscale_gemm_sm90(a, b, sa, sb, out_dtype=BF16), dry)
                err = errors(out, ref)
                return {"agree_2pct": verdict(err, 0.02), "cold_s": cold, "warm_s": warm, **err}

            run_case("fp8_gemm", f"w8a8 M={m} a_scale={name}", body, M=m, N=n, K=k, a_scale_shape=list(scale.shape))

        # BF16 activations x FP8 weights: the kernel quantises A per 1x128 itself (amax / 448).
        a_bf16 = (torch.randn(m, k, generator=gen) * torch.exp2(torch.randint(-3, 4, (m, 1), generator=gen).float())).to(BF16)
        blocks = a_bf16.float().view(m, k // 128, 128)
        amax = blocks.abs().amax(-1, keepdim=True).clamp_min(1e-10)
        a_q = ((blocks / (amax / 448)).to(FP8).float() * (amax / 448)).view(m, k)
        ref_exact = a_bf16.float() @ b_deq.T
        ref_quant = a_q @ b_deq.T

        def body_bf16(a_bf16=a_bf16, ref_exact=ref_exact, ref_quant=ref_quant):
            if dry:
                out, cold, warm = ref_quant, 0.0, None
            else:
                from flashinfer.gemm import fp8_blockscale_gemm_sm90

                a, b, sb = a_bf16.to(dev), b_fp8.to(dev), b_scale.to(dev)
                out, cold, warm = timed(lambda: fp8_blockscale_gemm_sm90(a, b, None, sb, out_dtype=BF16), dry)
            vs_exact, vs_quant = errors(out, ref_exact), errors(out, ref_quant)
            return {
                "cold_s": cold,
                "warm_s": warm,
                "vs_unquantised_A": vs_exact,
                "vs_A_quantised_1x128_in_torch": vs_quant,
                "agree_2pct_vs_quantised": verdict(vs_quant, 0.02),
            }

        run_case("fp8_gemm", f"bf16 x fp8 M={m}", body_bf16, M=m, N=n, K=k)


# ----------------------------------------------------------------------------------------------------------
# b. DeepSeek-V3 routing (fused_topk_deepseek)


def deepseek_routing(scores, bias, n_group, topk_group, top_k, scale):
    """sigmoid(scores) + bias; group score = sum of each group's top two biased scores; keep the best
    topk_group groups; the top_k experts among them by biased score; weights are the unbiased sigmoid
    scores of those experts, normalised to sum 1, times the routed scaling factor."""
    s = torch.sigmoid(scores.float())
    biased = s + bias.float()
    t, e = biased.shape
    groups = biased.view(t, n_group, e // n_group)
    group_score = groups.topk(min(2, e // n_group), dim=-1).values.sum(-1)
    keep = torch.zeros(t, n_group, dtype=torch.bool)
    keep.scatter_(1, group_score.topk(topk_group, dim=-1).indices, True)
    masked = biased.masked_fill(~keep.repeat_interleave(e // n_group, dim=1), float("-inf"))
    idx = masked.topk(top_k, dim=-1).indices
    w = s.gather(1, idx)
    return idx, w / w.sum(-1, keepdim=True) * scale


def probe_routing(dev: str, dry: bool) -> None:
    gen = torch.Generator().manual_seed(1)
    configs = [(256, 8, 4, 8), (384, 1, 1, 8)]
    dtypes = [("f32", torch.float32, torch.float32), ("bf16", BF16, BF16), ("f32 scores, bf16 bias", torch.float32, BF16)]
    for e, n_group, topk_group, top_k in configs:
        for label, sdt, bdt in dtypes:
            t, rsf = 37, 2.5
            scores = (torch.randn(t, e, generator=gen) * 2).to(sdt)
            bias = (torch.randn(e, generator=gen) * 0.1).to(bdt)
            ref_idx, ref_w = deepseek_routing(scores, bias, n_group, topk_group, top_k, rsf)

            def body(scores=scores, bias=bias, ref_idx=ref_idx, ref_w=ref_w, e=e, n_group=n_group, topk_group=topk_group, top_k=top_k):
                if dry:
                    idx, w, cold, warm = ref_idx, ref_w, 0.0, None
                else:
                    from flashinfer.fused_moe import fused_topk_deepseek

                    sc, bi = scores.to(dev), bias.to(dev)
                    vals = torch.empty(t, top_k, dtype=scores.dtype, device=dev)
                    inds = torch.empty(t, top_k, dtype=torch.int32, device=dev)

                    def call():
                        fused_topk_deepseek(sc, bi, n_group, topk_group, top_k, rsf, vals, inds)

                    _, cold, warm = timed(call, dry)
                    idx, w = inds.long().cpu(), vals.float().cpu()
                same_sets = [sorted(a) == sorted(b) for a, b in zip(idx.tolist(), ref_idx.tolist())]
                # Weights compared expert by expert (kernel order need not match torch's).
                dense_out = torch.zeros(t, e).scatter_(1, idx.long(), w.float())
                dense_ref = torch.zeros(t, e).scatter_(1, ref_idx, ref_w.float())
                err = errors(dense_out, dense_ref)
                return {
                    "rows_with_same_expert_set": f"{sum(same_sets)}/{t}",
                    "first_mismatch_row": same_sets.index(False) if False in same_sets else None,
                    "weights": err,
                    "agree": all(same_sets) and verdict(err, 0.02),
                    "cold_s": cold,
                    "warm_s": warm,
                }

            run_case("routing", f"E={e} n_group={n_group} topk_group={topk_group} top_k={top_k} {label}", body)


# ----------------------------------------------------------------------------------------------------------
# c. cutlass_fused_moe SM90 module (fused_moe_90): how far its JIT build gets in the time allowed


def moe_progress(build_dir: Path, ninja_file: Path) -> dict:
    total = 0
    if ninja_file.exists():
        total = sum(1 for line in ninja_file.read_text().splitlines() if re.match(r"build \S+\.o:", line))
    done_objects = len(list(build_dir.rglob("*.o"))) if build_dir.exists() else 0
    durations = []
    log = build_dir / ".ninja_log"
    if log.exists():
        for line in log.read_text().splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 4 and parts[3].endswith(".o"):
                durations.append((int(parts[1]) - int(parts[0])) / 1000)
    return {
        "objects_total": total,
        "objects_done": done_objects,
        "ninja_log_objects": len(durations),
        "compile_s_sum": round(sum(durations), 1),
        "compile_s_max": round(max(durations), 1) if durations else None,
        "compile_s_median": round(sorted(durations)[len(durations) // 2], 1) if durations else None,
        "so_exists": any(build_dir.glob("*.so")) if build_dir.exists() else False,
        # Serial compile seconds per finished object x all objects / 16 cores: what a whole build would take
        # on this machine alone (pessimistic: objects here compiled beside the other probes' builds).
        "estimated_full_build_s_at_16_jobs": round(sum(durations) / len(durations) * total / 16) if durations and total else None,
    }


def probe_moe_build(dev: str, dry: bool) -> None:
    limit = float(os.environ.get("PROBE_MOE_BUILD_S", "240"))
    keep = os.environ.get("PROBE_MOE_BUILD_KEEP") == "1"

    def body():
        if dry:
            return {"skipped": "dry run"}
        from flashinfer.jit.fused_moe import gen_cutlass_fused_moe_sm90_module

        start = time.perf_counter()
        spec = gen_cutlass_fused_moe_sm90_module()  # generates the CUTLASS instantiation sources
        gen_s = time.perf_counter() - start
        spec.write_ninja()
        build_dir, ninja_file = Path(spec.build_dir), Path(spec.ninja_path)
        log_path = Path(os.environ.get("PROBE_OUT", "/tmp")) / "moe_build.log"
        # Verbose: ninja streams into the log instead of printing only once it ends.
        env = dict(os.environ, MAX_JOBS=os.environ.get("PROBE_MOE_JOBS", "8"), FLASHINFER_JIT_VERBOSE="1")
        code = "from flashinfer.jit.fused_moe import gen_cutlass_fused_moe_sm90_module as g; g().build_and_load(); print('BUILT')"
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        samples = []
        while proc.poll() is None and time.perf_counter() - start < limit:
            time.sleep(10)
            p = moe_progress(build_dir, ninja_file)
            samples.append([round(time.perf_counter() - start), p["objects_done"]])
        finished = proc.poll() is not None
        progress = moe_progress(build_dir, ninja_file)
        if not finished and not keep:
            os.killpg(proc.pid, signal.SIGKILL)
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        return {
            "ok": finished and proc.returncode == 0,
            "finished": finished,
            "returncode": proc.returncode,
            "left_running": (not finished) and keep,
            "wall_s": round(time.perf_counter() - start, 1),
            "source_generation_s": round(gen_s, 1),
            "module": getattr(spec, "name", "?"),
            "build_dir": str(build_dir),
            "max_jobs": env["MAX_JOBS"],
            "progress": progress,
            "objects_done_over_time": samples,
            "log_tail": tail,
        }

    run_case("moe_build", "cutlass_fused_moe sm90 JIT build", body, limit_s=limit)


# ----------------------------------------------------------------------------------------------------------
# d. Float16 GEMM C = A @ B.T (the dataset's GEMM definitions), and mm_bf16 for comparison


def probe_fp16_gemm(dev: str, dry: bool) -> None:
    n, k = 256, 512
    gen = torch.Generator().manual_seed(2)
    b16 = torch.randn(n, k, generator=gen).to(torch.float16) * 0.1
    for m in (1, 7, 64, 200):
        a16 = torch.randn(m, k, generator=gen).to(torch.float16)
        ref = a16.float() @ b16.float().T
        for backend in ("sm90", "sm80", "auto"):

            def body(a16=a16, ref=ref, backend=backend, m=m):
                if dry:
                    out, cold, warm = ref, 0.0, None
                else:
                    from flashinfer.gemm import SegmentGEMMWrapper

                    ws = torch.empty(128 * 1024 * 1024, dtype=torch.uint8, device=dev)
                    wrapper = SegmentGEMMWrapper(ws, backend=backend)
                    a, w = a16.to(dev), b16.to(dev).unsqueeze(0)  # [1, N, K]: one segment, weight column-major
                    lens = torch.tensor([m], dtype=torch.int64, device=dev)
                    out, cold, warm = timed(lambda: wrapper.run(a, w, 1, True, seg_lens=lens), dry)
                err = errors(out, ref)
                return {"out_dtype": str(out.dtype), "agree_1pct": verdict(err, 0.01), "cold_s": cold, "warm_s": warm, **err}

            run_case("fp16_gemm", f"SegmentGEMMWrapper({backend}) fp16 M={m}", body, M=m, N=n, K=k)

    for m in (7, 200):  # cuTile GEMM: C = A @ B^T straight from B [N, K]; needs the cuda-tile package
        a16 = torch.randn(m, k, generator=gen).to(torch.float16)
        ref = a16.float() @ b16.float().T

        def body_cutile(a16=a16, ref=ref, m=m):
            if dry:
                out, cold, warm = ref, 0.0, None
            else:
                from flashinfer.gemm import gemm_alpha_beta

                a, b = a16.to(dev), b16.to(dev)
                c = torch.zeros(m, n, dtype=torch.float16, device=dev)
                out, cold, warm = timed(lambda: gemm_alpha_beta(a, b, c, trans_b=True), dry)
            err = errors(out, ref)
            return {"agree_1pct": verdict(err, 0.01), "cold_s": cold, "warm_s": warm, **err}

        run_case("fp16_gemm", f"gemm_alpha_beta(cutile) fp16 M={m}", body_cutile, M=m, N=n, K=k)

    a16 = torch.randn(64, k, generator=gen).to(torch.float16)

    def body_mm_fp16():
        if dry:
            return {"skipped": "dry run"}
        from flashinfer.gemm import mm_bf16

        out = mm_bf16(a16.to(dev), b16.to(dev).T, out_dtype=torch.float16)
        return {"accepted_fp16_inputs": True, **errors(out, a16.float() @ b16.float().T)}

    run_case("fp16_gemm", "mm_bf16 given fp16 inputs (expected refusal)", body_mm_fp16)

    for m in (7, 200):
        abf = torch.randn(m, k, generator=gen).to(BF16)
        bbf = (torch.randn(n, k, generator=gen) * 0.1).to(BF16)
        ref = abf.float() @ bbf.float().T
        for backend in ("cudnn", "cutlass", "cublaslt", "auto"):

            def body_bf16(abf=abf, bbf=bbf, ref=ref, backend=backend):
                if dry:
                    out, cold, warm = ref, 0.0, None
                else:
                    from flashinfer.gemm import mm_bf16

                    a, b = abf.to(dev), bbf.to(dev).T  # b: (K, N) column-major, as mm_bf16 wants
                    out, cold, warm = timed(lambda: mm_bf16(a, b, backend=backend), dry)
                err = errors(out, ref)
                return {"agree_1pct": verdict(err, 0.01), "cold_s": cold, "warm_s": warm, **err}

            run_case("fp16_gemm", f"mm_bf16({backend}) bf16 M={m}", body_bf16, M=m, N=n, K=k)


# ----------------------------------------------------------------------------------------------------------
# e. DSA: sparse attention through the MLA paged kernel (page size 1); top-k + page-table translation


def sparse_mla_reference(q_nope, q_pe, ckv, kpe, sparse_indices, sm_scale):
    """Attention of each token over its valid (!= -1) global KV slots; base-2 LSE; no slot: 0 and -inf."""
    t, h, dc = q_nope.shape
    kc_all, kp_all = ckv.reshape(-1, dc).float(), kpe.reshape(-1, kpe.shape[-1]).float()
    out = torch.zeros(t, h, dc)
    lse = torch.full((t, h), float("-inf"))
    for i in range(t):
        idx = sparse_indices[i][sparse_indices[i] != -1].long()
        if idx.numel() == 0:
            continue
        logits = (q_nope[i].float() @ kc_all[idx].T + q_pe[i].float() @ kp_all[idx].T) * sm_scale
        lse[i] = torch.logsumexp(logits, -1) / math.log(2.0)
        out[i] = torch.softmax(logits, -1) @ kc_all[idx]
    return out, lse


def probe_dsa_mla(dev: str, dry: bool) -> None:
    gen = torch.Generator().manual_seed(3)
    h, dc, dp, ps, pages, topk = 16, 512, 64, 64, 4, 32
    sm_scale = 1.0 / math.sqrt(128 + 64)
    ckv = torch.randn(pages, ps, dc, generator=gen).to(BF16)
    kpe = torch.randn(pages, ps, dp, generator=gen).to(BF16)
    for label, valid_counts in (("all rows non-empty", [32, 20, 1, 7]), ("row 2 has no valid index", [32, 20, 0, 7])):
        t = len(valid_counts)
        q_nope = torch.randn(t, h, dc, generator=gen).to(BF16)
        q_pe = torch.randn(t, h, dp, generator=gen).to(BF16)
        sparse = torch.full((t, topk), -1, dtype=torch.int32)
        for i, c in enumerate(valid_counts):
            sparse[i, :c] = torch.randperm(pages * ps, generator=gen)[:c].to(torch.int32)
        ref_out, ref_lse = sparse_mla_reference(q_nope, q_pe, ckv, kpe, sparse, sm_scale)

        def body(q_nope=q_nope, q_pe=q_pe, sparse=sparse, ref_out=ref_out, ref_lse=ref_lse, valid_counts=valid_counts, t=t):
            counts = torch.tensor(valid_counts, dtype=torch.int32)
            kv_indptr = torch.cat([torch.zeros(1, dtype=torch.int32), counts.cumsum(0).to(torch.int32)])
            kv_indices = sparse[sparse != -1].to(torch.int32)  # row-major: each row's valid slots, in order
            if dry:
                out, lse, cold, warm = ref_out, ref_lse, 0.0, None
            else:
                import flashinfer

                ws = torch.zeros(128 * 1024 * 1024, dtype=torch.uint8, device=dev)
                wrapper = flashinfer.mla.BatchMLAPagedAttentionWrapper(ws)
                qo_indptr = torch.arange(t + 1, dtype=torch.int32, device=dev)
                ckv1, kpe1 = ckv.to(dev).view(-1, 1, dc), kpe.to(dev).view(-1, 1, dp)  # page size 1

                def call():
                    wrapper.plan(
                        metadata=flashinfer.mla.MLAPlanMetadata.csr(qo_indptr, kv_indptr.to(dev), kv_indices.to(dev), counts.to(dev)),
                        num_heads=h,
                        head_dim_ckv=dc,
                        head_dim_kpe=dp,
                        page_size=1,
                        causal=False,
                        sm_scale=sm_scale,
                        q_data_type=BF16,
                        kv_data_type=BF16,
                        query_layout="split",
                        kv_cache_layout="split",
                        lse_mode="base2",
                    )
                    return wrapper.run(query=(q_nope.to(dev), q_pe.to(dev)), kv_cache=(ckv1, kpe1), return_lse=True)

                (out, lse), cold, warm = timed(call, dry)
                out, lse = out.float().cpu(), lse.float().cpu()
            rows = [i for i, c in enumerate(valid_counts) if c > 0]
            empty = [i for i, c in enumerate(valid_counts) if c == 0]
            out_err, lse_err = errors(out[rows], ref_out[rows]), errors(lse[rows], ref_lse[rows])
            found = {
                "out_non_empty_rows": out_err,
                "lse_non_empty_rows": lse_err,
                "agree": verdict(out_err, 0.02) and (lse_err.get("max_abs_err", 1) <= 0.02),
                "cold_s": cold,
                "warm_s": warm,
            }
            for i in empty:  # what the kernel does for kv_len 0
                found[f"empty_row_{i}"] = {
                    "out_abs_max": out[i].abs().max().item(),
                    "out_finite": bool(torch.isfinite(out[i]).all()),
                    "lse_values": sorted(set(round(x, 4) if math.isfinite(x) else str(x) for x in lse[i].tolist()))[:5],
                }
            return found

        run_case("dsa_mla", f"MLA paged ps=1 as sparse attention: {label}", body, valid_counts=valid_counts)


def topk_page_table_reference(logits, block_table, lengths, k, ps):
    out = []
    for i in range(logits.shape[0]):
        n = int(lengths[i])
        idx = logits[i, :n].float().topk(min(k, n)).indices
        slots = block_table[i, idx // ps].long() * ps + idx % ps
        out.append(sorted(slots.tolist()))
    return out


def probe_dsa_topk(dev: str, dry: bool) -> None:
    gen = torch.Generator().manual_seed(4)
    for k, ps, max_pages, lengths in ((64, 64, 8, [500, 64, 10, 300]), (2048, 64, 64, [4000, 2048, 1500, 2100])):
        b, max_len = len(lengths), max_pages * ps
        logits = torch.randn(b, max_len, generator=gen)  # float32: no ties in practice
        block_table = torch.stack([torch.randperm(4 * max_pages, generator=gen)[:max_pages] for _ in range(b)]).to(torch.int32)
        lens = torch.tensor(lengths, dtype=torch.int32)
        ref = topk_page_table_reference(logits, block_table, lens, k, ps)

        def body(logits=logits, block_table=block_table, lens=lens, ref=ref, k=k, ps=ps):
            if dry:
                got, cold, warm = [r + [-1] * (k - len(r)) for r in ref], 0.0, None
            else:
                import flashinfer

                lg, bt, ln = logits.to(dev), block_table.to(dev), lens.to(dev)
                out, cold, warm = timed(lambda: flashinfer.top_k_page_table_transform(lg, bt, ln, k, page_size=ps), dry)
                got = out.cpu().tolist()
            same = [sorted(x for x in g if x != -1) == r for g, r in zip(got, ref)]
            pads = [sum(1 for x in g if x == -1) for g in got]
            return {
                "rows_with_same_slot_set": f"{sum(same)}/{len(ref)}",
                "padding_per_row": pads,
                "expected_padding": [k - len(r) for r in ref],
                "agree": all(same) and pads == [k - len(r) for r in ref],
                "cold_s": cold,
                "warm_s": warm,
            }

        run_case("dsa_topk", f"top_k_page_table_transform k={k} page_size={ps}", body, lengths=lengths)


# ----------------------------------------------------------------------------------------------------------
# f. GDN and KDA (CuTe DSL kernels; need nvidia-cutlass-dsl)


def l2norm(x):
    return x * torch.rsqrt(x.square().sum(-1, keepdim=True) + 1e-6)


def delta_rule(state, q, k, v, decay, beta, scale):
    """One sequence of the gated delta rule, float32, state [HV, V, K] (k-last).
    q, k: [T, HV, K] (already expanded to value heads); v: [T, HV, V]; decay: [T, HV] (GDN) or [T, HV, K]
    (KDA, per key channel); beta: [T, HV]. Per step: S *= decay; S += beta * (v - S k) k^T; o = scale S q."""
    out = torch.zeros(v.shape)
    for t in range(q.shape[0]):
        d = decay[t]
        state = state * (d[:, None, None] if d.dim() == 1 else d[:, None, :])
        pred = torch.einsum("hvk,hk->hv", state, k[t])
        state = state + (beta[t][:, None] * (v[t] - pred))[:, :, None] * k[t][:, None, :]
        out[t] = scale * torch.einsum("hvk,hk->hv", state, q[t])
    return out, state


def gdn_gates(A_log, a, dt_bias, b):
    g = torch.exp(-torch.exp(A_log.float()) * F.softplus(a.float() + dt_bias.float()))
    return g, torch.sigmoid(b.float())


def gdn_inputs(gen, shape_tok, h, hv, d=128):
    """q, k: [*shape_tok, h, d]; v: [*shape_tok, hv, d] bf16; A_log, dt_bias [hv] f32; a, b [*shape_tok, hv]."""
    return {
        "q": torch.randn(*shape_tok, h, d, generator=gen).to(BF16),
        "k": (torch.randn(*shape_tok, h, d, generator=gen) / math.sqrt(d)).to(BF16),  # keeps |k| ~ 1
        "v": torch.randn(*shape_tok, hv, d, generator=gen).to(BF16),
        "A_log": torch.log(torch.rand(hv, generator=gen) * 15 + 1),
        "a": torch.randn(*shape_tok, hv, generator=gen).to(BF16),
        "dt_bias": torch.randn(hv, generator=gen) * 0.5,
        "b": torch.randn(*shape_tok, hv, generator=gen).to(BF16),
    }


def dsl_status() -> dict:
    found = {}
    try:
        import cutlass  # noqa: F401

        found["import_cutlass"] = "ok"
        try:
            found["nvidia-cutlass-dsl"] = importlib.metadata.version("nvidia-cutlass-dsl")
        except Exception as exc:
            found["nvidia-cutlass-dsl"] = f"metadata: {exc}"
    except Exception as exc:
        found["import_cutlass"] = f"{type(exc).__name__}: {exc}"
        found["traceback"] = traceback.format_exc()
    return found


def expand(x, hv):
    return x.float().repeat_interleave(hv // x.shape[-2], dim=-2)


def probe_gdn_decode(dev: str, dry: bool) -> None:
    gen = torch.Generator().manual_seed(5)
    bsz, h, hv, d = 3, 4, 8, 128
    x = gdn_inputs(gen, (bsz, 1), h, hv, d)
    state0 = torch.randn(bsz, hv, d, d, generator=gen) * 0.1
    scale = 1 / math.sqrt(d)
    g, beta = gdn_gates(x["A_log"], x["a"], x["dt_bias"], x["b"])
    ref_out, ref_state = torch.zeros(bsz, 1, hv, d), torch.zeros_like(state0)
    for i in range(bsz):
        o, s = delta_rule(state0[i], expand(x["q"][i], hv), expand(x["k"][i], hv), x["v"][i].float(), g[i], beta[i], scale)
        ref_out[i], ref_state[i] = o, s

    def body():
        if dry:
            out, state, cold, warm = ref_out, ref_state, 0.0, None
        else:
            from flashinfer.gdn_decode import gated_delta_rule_decode_pretranspose

            t = {n: v.to(dev) for n, v in x.items()}
            holder = {}

            def call():
                holder["state"] = state0.to(dev).contiguous()  # updated in place: fresh copy per call
                out, _ = gated_delta_rule_decode_pretranspose(
                    t["q"], t["k"], t["v"], holder["state"], t["A_log"], t["a"], t["dt_bias"], t["b"], scale=scale, use_qk_l2norm=False
                )
                return out

            out, cold, warm = timed(call, dry)
            state = holder["state"]
        oe, se = errors(out, ref_out), errors(state, ref_state)
        return {"output": oe, "state": se, "agree": verdict(oe, 0.02) and verdict(se, 0.01), "cold_s": cold, "warm_s": warm}

    emit({"group": "gdn_decode", "case": "dsl import", **dsl_status()})
    run_case("gdn_decode", "gated_delta_rule_decode_pretranspose fp32 state, no l2norm", body, B=bsz, H=h, HV=hv)


def probe_gdn_mtp(dev: str, dry: bool) -> None:
    gen = torch.Generator().manual_seed(6)
    bsz, steps, h, hv, d, pool = 2, 3, 4, 8, 128, 4
    x = gdn_inputs(gen, (bsz, steps), h, hv, d)
    pool0 = torch.randn(pool, hv, d, d, generator=gen) * 0.1
    slots = torch.tensor([2, 0], dtype=torch.int32)
    scale = 1 / math.sqrt(d)
    g, beta = gdn_gates(x["A_log"], x["a"], x["dt_bias"], x["b"])
    for l2, frozen in ((False, False), (True, True)):
        ref_out, ref_pool = torch.zeros(bsz, steps, hv, d), pool0.clone()
        for i in range(bsz):
            q, k = expand(x["q"][i], hv), expand(x["k"][i], hv)
            if l2:
                q, k = l2norm(q), l2norm(k)
            o, s = delta_rule(pool0[int(slots[i])], q, k, x["v"][i].float(), g[i], beta[i], scale)
            ref_out[i] = o
            if not frozen:
                ref_pool[int(slots[i])] = s

        def body(l2=l2, frozen=frozen, ref_out=ref_out, ref_pool=ref_pool):
            if dry:
                out, pool_after, cold, warm = ref_out, ref_pool, 0.0, None
            else:
                from flashinfer.gdn_decode import gated_delta_rule_mtp

                t = {n: v.to(dev) for n, v in x.items()}
                holder = {}

                def call():
                    holder["pool"] = pool0.to(dev).contiguous()
                    out, _ = gated_delta_rule_mtp(
                        t["q"], t["k"], t["v"], holder["pool"], slots.to(dev), t["A_log"], t["a"], t["dt_bias"], t["b"],
                        scale=scale, disable_state_update=frozen, use_qk_l2norm=l2,
                    )
                    return out

                out, cold, warm = timed(call, dry)
                pool_after = holder["pool"]
            oe, se = errors(out, ref_out), errors(pool_after, ref_pool)
            return {"output": oe, "state_pool": se, "agree": verdict(oe, 0.02) and verdict(se, 0.01), "cold_s": cold, "warm_s": warm}

        run_case("gdn_mtp", f"gated_delta_rule_mtp use_qk_l2norm={l2} disable_state_update={frozen}", body, B=bsz, T=steps)


def probe_gdn_prefill(dev: str, dry: bool) -> None:
    gen = torch.Generator().manual_seed(7)
    lens, h, hv, d = [5, 70], 4, 8, 128  # 70 crosses the kernel's 64-token chunk
    total = sum(lens)
    x = gdn_inputs(gen, (total,), h, hv, d)
    state0 = torch.randn(len(lens), hv, d, d, generator=gen) * 0.1
    cu = torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32)
    scale = 1 / math.sqrt(d)
    g, beta = gdn_gates(x["A_log"], x["a"], x["dt_bias"], x["b"])  # float32 [T, HV]
    ref_out, ref_state = torch.zeros(total, hv, d), torch.zeros_like(state0)
    for n in range(len(lens)):
        sl = slice(int(cu[n]), int(cu[n + 1]))
        o, s = delta_rule(state0[n], expand(x["q"][sl], hv), expand(x["k"][sl], hv), x["v"][sl].float(), g[sl], beta[sl], scale)
        ref_out[sl], ref_state[n] = o, s

    def body():
        if dry:
            out, state, cold, warm = ref_out, ref_state, 0.0, None
        else:
            from flashinfer.gdn_prefill import chunk_gated_delta_rule

            q, k, v = x["q"].to(dev), x["k"].to(dev), x["v"].to(dev)
            gd, bd, s0, cud = g.to(dev).contiguous(), beta.to(dev).contiguous(), state0.to(dev), cu.to(dev)
            out_state = torch.empty_like(s0)

            def call():
                out, _ = chunk_gated_delta_rule(
                    q, k, v, g=gd, beta=bd, scale=scale, initial_state=s0, output_final_state=True, cu_seqlens=cud,
                    use_qk_l2norm_in_kernel=False, output_state=out_state,
                )
                return out

            out, cold, warm = timed(call, dry)
            state = out_state
        oe, se = errors(out, ref_out), errors(state, ref_state)
        return {"output": oe, "final_state": se, "agree": verdict(oe, 0.02) and verdict(se, 0.01), "cold_s": cold, "warm_s": warm}

    run_case("gdn_prefill", "chunk_gated_delta_rule GVA h4/hv8 d128, float32 g/beta", body, lens=lens)


def kda_reference(q, k, v, graw, beta, A_log, dt_bias, scale, pool, slot_of_seq, seqs):
    """KDA as SGLang asks FlashInfer for it: gate in kernel (-exp(A_log) * softplus(g + dt_bias) per key
    channel, A_log per q head, dt_bias [H, K]), q/k l2-normalised, beta already in (0, 1), bf16 state pool.
    seqs: list of (batch row, token slice)."""
    h, hv = q.shape[-2], v.shape[-2]
    out, pool_after = torch.zeros(v.shape), pool.clone()
    rate = torch.exp(A_log.float()).repeat_interleave(hv // h)
    bias = dt_bias.float().view(h, -1).repeat_interleave(hv // h, dim=0)
    for n, (row, sl) in enumerate(seqs):
        qq, kk = l2norm(expand(q[row, sl], hv)), l2norm(expand(k[row, sl], hv))
        decay = torch.exp(-rate[None, :, None] * F.softplus(graw[row, sl].float() + bias[None]))
        o, s = delta_rule(pool[int(slot_of_seq[n])].float(), qq, kk, v[row, sl].float(), decay, beta[row, sl].float(), scale)
        out[row, sl] = o
        pool_after[int(slot_of_seq[n])] = s.to(pool.dtype)
    return out, pool_after


def probe_kda(dev: str, dry: bool) -> None:
    gen = torch.Generator().manual_seed(8)
    h, hv, d, pool_n = 2, 4, 128, 5
    scale = 1 / math.sqrt(d)
    A_log = torch.log(torch.rand(h, generator=gen) * 15 + 1)
    dt_bias = torch.log(torch.expm1(torch.rand(h, d, generator=gen) * 0.099 + 0.001)).reshape(-1)  # [H*K]
    pool0 = (torch.randn(pool_n, hv, d, d, generator=gen) * 0.1).to(BF16)

    def tensors(rows, tokens):
        return (
            torch.randn(rows, tokens, h, d, generator=gen).to(BF16),
            torch.randn(rows, tokens, h, d, generator=gen).to(BF16),
            (torch.randn(rows, tokens, hv, d, generator=gen) * 0.5).to(BF16),
            torch.randn(rows, tokens, hv, d, generator=gen).to(BF16),
            torch.randn(rows, tokens, hv, generator=gen),
        )

    # Prefill: packed [1, T, ...], cu_seqlens, beta a logit (beta_is_logit=True).
    lens = [5, 3, 1]
    q, k, v, graw, beta_logit = tensors(1, sum(lens))
    cu = torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32)
    slots = torch.tensor([3, 0, 4], dtype=torch.int32)
    seqs = [(0, slice(int(cu[n]), int(cu[n + 1]))) for n in range(len(lens))]
    beta_bf = beta_logit.to(BF16)
    cases = [("prefill packed, cu_seqlens, beta_is_logit", q, k, v, graw, beta_bf, torch.sigmoid(beta_bf.float()), cu, slots, seqs, True)]
    # Decode: [B, 1, ...] (one token per row) and SGLang's packed form [1, B, ...] with cu_seqlens = arange.
    bsz = 3
    q, k, v, graw, beta_logit = tensors(bsz, 1)
    beta_dec = torch.sigmoid(beta_logit).to(BF16)
    dslots = torch.tensor([1, 4, 2], dtype=torch.int32)
    cases.append(("decode [B,1]", q, k, v, graw, beta_dec, beta_dec.float(), None, dslots, [(i, slice(0, 1)) for i in range(bsz)], False))
    packed = [t.transpose(0, 1).contiguous() for t in (q, k, v, graw, beta_dec)]
    cu_dec = torch.arange(bsz + 1, dtype=torch.int32)
    cases.append(("decode packed [1,B], cu_seqlens=arange", *packed, packed[4].float(), cu_dec, dslots, [(0, slice(i, i + 1)) for i in range(bsz)], False))

    emit({"group": "kda", "case": "dsl import", **dsl_status()})
    for label, q, k, v, graw, beta_in, beta_ref, cu_t, slot_t, seqs_t, logit in cases:
        ref_out, ref_pool = kda_reference(q, k, v, graw, beta_ref, A_log, dt_bias, scale, pool0, slot_t, seqs_t)

        def body(q=q, k=k, v=v, graw=graw, beta_in=beta_in, cu_t=cu_t, slot_t=slot_t, logit=logit, ref_out=ref_out, ref_pool=ref_pool):
            if dry:
                out, pool_after, cold, warm = ref_out, ref_pool, 0.0, None
            else:
                from flashinfer.kda import recurrent_kda

                holder = {}

                def call():
                    holder["pool"] = pool0.to(dev).contiguous()
                    result = recurrent_kda(
                        q.to(dev), k.to(dev), v.to(dev), graw.to(dev), beta_in.to(dev),
                        A_log=A_log.to(dev), dt_bias=dt_bias.to(dev), scale=None, initial_state=holder["pool"],
                        output_final_state=False, use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True,
                        cu_seqlens=None if cu_t is None else cu_t.to(dev), ssm_state_indices=slot_t.to(dev), beta_is_logit=logit,
                    )
                    return result[0]

                out, cold, warm = timed(call, dry)
                pool_after = holder["pool"]
            oe, se = errors(out, ref_out), errors(pool_after, ref_pool)
            return {"output": oe, "state_pool": se, "agree": verdict(oe, 0.03) and verdict(se, 0.02), "cold_s": cold, "warm_s": warm}

        run_case("kda", f"recurrent_kda {label}", body, H=h, HV=hv, D=d)


GROUPS = {
    "fp8_gemm": probe_fp8_gemm,
    "routing": probe_routing,
    "moe_build": probe_moe_build,
    "fp16_gemm": probe_fp16_gemm,
    "dsa_mla": probe_dsa_mla,
    "dsa_topk": probe_dsa_topk,
    "gdn_decode": probe_gdn_decode,
    "gdn_mtp": probe_gdn_mtp,
    "gdn_prefill": probe_gdn_prefill,
    "kda": probe_kda,
}


# ----------------------------------------------------------------------------------------------------------
# Environment and the parent process


def environment() -> dict:
    env = {"group": "env", "python": sys.version.split()[0], "torch": torch.__version__, "torch_cuda": torch.version.cuda}
    try:
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cc"] = list(torch.cuda.get_device_capability(0))
        env["sm_count"] = torch.cuda.get_device_properties(0).multi_processor_count
    except Exception as exc:
        env["gpu"] = f"none: {exc}"
    for cmd, key in ((["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], "driver"), (["nvcc", "--version"], "nvcc"), (["ninja", "--version"], "ninja")):
        try:
            env[key] = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[-1]
        except Exception as exc:
            env[key] = f"unavailable: {exc}"
    try:
        import flashinfer

        env["flashinfer"] = flashinfer.__version__
    except Exception as exc:
        env["flashinfer"] = f"import failed: {exc}"
    nvrtc = []
    for name in ("libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"):
        try:
            ctypes.CDLL(name)
            nvrtc.append(f"{name}: loadable")
        except OSError as exc:
            nvrtc.append(f"{name}: {exc}")
    env["nvrtc_dlopen"] = nvrtc
    env["nvrtc_files_on_sys_path"] = sorted({p for d in sys.path if d for p in glob.glob(os.path.join(d, "nvidia", "**", "libnvrtc.so*"), recursive=True)})[:6]
    env["cutlass_dsl"] = dsl_status()
    env["env_vars"] = {k: os.environ.get(k) for k in ("PYTHONPATH", "CUDA_HOME", "MAX_JOBS", "FLASHINFER_WORKSPACE_BASE", "TRTLLM_DG_ENABLED")}
    return env


def run_group(name: str, timeout: float, out_dir: Path, dry: bool) -> list[dict]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name] + (["--dry-run"] if dry else [])
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=dict(os.environ, PROBE_OUT=str(out_dir)))
    try:
        text, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        text, _ = proc.communicate()
        timed_out = True
    records = [json.loads(line[len(PREFIX):]) for line in text.splitlines() if line.startswith(PREFIX)]
    other = "\n".join(line for line in text.splitlines() if not line.startswith(PREFIX))
    with open(out_dir / "probe-children.log", "a") as log:
        log.write(f"\n===== {name} (rc {proc.returncode}, {time.perf_counter() - start:.1f}s)\n{other}\n")
    if timed_out or proc.returncode != 0:
        records.append({
            "group": name, "case": "group process", "ok": False,
            "error": f"timed out after {timeout:.0f}s" if timed_out else f"exit code {proc.returncode}",
            "output_tail": other[-4000:], "group_s": round(time.perf_counter() - start, 1),
        })
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="nodsl,moe_build", help="comma-separated groups, or 'dsl' / 'nodsl' / 'all'")
    parser.add_argument("--out", default=os.environ.get("OUT", "build/h200-probe"))
    parser.add_argument("--dry-run", action="store_true", help="CPU only: run the torch references, skip the kernels")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    dev = "cpu" if args.dry_run else "cuda"
    if args.child:
        GROUPS[args.child](dev, args.dry_run)
        return 0

    names: list[str] = []
    for item in args.only.split(","):
        names += {"dsl": DSL_GROUPS, "nodsl": NODSL_GROUPS, "all": NODSL_GROUPS + ["moe_build"] + DSL_GROUPS}.get(item, [item])
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        parser.error(f"unknown groups {unknown}; known: {sorted(GROUPS)}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = out_dir / "probe.jsonl"
    deadline = time.perf_counter() + float(os.environ.get("PROBE_DEADLINE_S", "540"))
    per_group = float(os.environ.get("PROBE_TIMEOUT_S", "240"))

    def write(record: dict) -> None:
        line = json.dumps(record, default=str)
        print(PREFIX + line, flush=True)
        with open(jsonl, "a") as handle:
            handle.write(line + "\n")

    write(environment() if not args.dry_run else {"group": "env", "dry_run": True, "torch": torch.__version__})

    def launch(name: str) -> list[dict]:
        left = deadline - time.perf_counter()
        if left < 15:
            return [{"group": name, "case": "group process", "ok": False, "error": "not run: PROBE_DEADLINE_S reached"}]
        limit = float(os.environ.get("PROBE_MOE_BUILD_S", "240")) + 60 if name == "moe_build" else per_group
        return run_group(name, min(limit, left), out_dir, args.dry_run)

    # The MoE build runs beside the others for its whole limit; the rest share PROBE_PARALLEL slots.
    parallel = int(os.environ.get("PROBE_PARALLEL", "3"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel + 1) as pool:
        futures = []
        if "moe_build" in names:
            futures.append(pool.submit(launch, "moe_build"))
        with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as inner:
            rest = [inner.submit(launch, n) for n in names if n != "moe_build"]
            for future in concurrent.futures.as_completed(rest):
                for record in future.result():
                    write(record)
        for future in futures:
            for record in future.result():
                write(record)
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    cases = [r for r in records if r.get("group") != "env" and "ok" in r]
    summary = {"group": "summary", "cases": len(cases), "ok": sum(1 for r in cases if r["ok"]),
               "agree": sum(1 for r in cases if any(v is True for key, v in r.items() if key.startswith("agree")))}
    write(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
