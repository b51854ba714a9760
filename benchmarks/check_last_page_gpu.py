"""On the GPU machine: the page-size-64 attention references, which take `kv_last_page_len`,
against FlashInfer's kernels planned with the same last-page lengths.

The verification bindings plan whole pages only, so until they pass `kv_last_page_len`
this is the check that the references written in `paged_references.py` compute what the
kernels compute, sequences ending mid-page included. One device call, from the repo root:

    source .device-bundle/install.sh && python3 benchmarks/check_last_page_gpu.py

Prints one line per definition and case (PASS or FAIL, the largest output and LSE errors)
and exits 1 if any case fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import flashinfer
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.definition_builder.builder import BuildContext, build_definition  # noqa: E402
from tools.kernel_spec import KernelSpec  # noqa: E402
from tools.verification.inputs import default_cases, make_inputs  # noqa: E402
from tools.verification.worker import load_reference  # noqa: E402

WORKSPACE = 128 * 1024 * 1024
TOLERANCE = 2e-2
GQA = {"num_qo_heads": 32, "num_kv_heads": 8, "head_dim": 128, "page_size": 64}
MLA = {"num_qo_heads": 16, "head_dim_ckv": 512, "head_dim_kpe": 64, "page_size": 64}


def _workspace():
    return torch.zeros(WORKSPACE, dtype=torch.uint8, device="cuda")


def gqa_decode(q, k_cache, v_cache, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    wrapper = flashinfer.decode.BatchDecodeWithPagedKVCacheWrapper(_workspace(), kv_layout="NHD")
    _, page_size, num_kv_heads, head_dim = k_cache.shape
    wrapper.plan(kv_indptr, kv_indices, kv_last_page_len, q.shape[1], num_kv_heads, head_dim, page_size,
                 sm_scale=float(sm_scale), q_data_type=q.dtype, kv_data_type=k_cache.dtype)
    return wrapper.run(q, (k_cache, v_cache), return_lse=True)


def gqa_prefill(q, k_cache, v_cache, qo_indptr, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    wrapper = flashinfer.prefill.BatchPrefillWithPagedKVCacheWrapper(_workspace(), kv_layout="NHD")
    _, page_size, num_kv_heads, head_dim = k_cache.shape
    wrapper.plan(qo_indptr, kv_indptr, kv_indices, kv_last_page_len, q.shape[1], num_kv_heads, head_dim, page_size,
                 causal=True, sm_scale=float(sm_scale), q_data_type=q.dtype, kv_data_type=k_cache.dtype)
    return wrapper.run(q, (k_cache, v_cache), return_lse=True, lse_base="log2")


def _mla(q_nope, q_pe, ckv_cache, kpe_cache, qo_indptr, kv_indptr, kv_indices, kv_last_page_len, sm_scale, causal):
    page_size = ckv_cache.shape[1]
    kv_len = ((kv_indptr[1:] - kv_indptr[:-1] - 1) * page_size + kv_last_page_len).to(torch.int32)
    wrapper = flashinfer.mla.BatchMLAPagedAttentionWrapper(_workspace())
    wrapper.plan(
        metadata=flashinfer.mla.MLAPlanMetadata.csr(qo_indptr, kv_indptr, kv_indices, kv_len),
        num_heads=q_nope.shape[1], head_dim_ckv=ckv_cache.shape[2], head_dim_kpe=kpe_cache.shape[2], page_size=page_size,
        causal=causal, sm_scale=float(sm_scale), q_data_type=q_nope.dtype, kv_data_type=ckv_cache.dtype,
        query_layout="split", kv_cache_layout="split", lse_mode="base2",
    )
    return wrapper.run(query=(q_nope, q_pe), kv_cache=(ckv_cache, kpe_cache), return_lse=True)


def mla_decode(q_nope, q_pe, ckv_cache, kpe_cache, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    qo_indptr = torch.arange(q_nope.shape[0] + 1, dtype=torch.int32, device=q_nope.device)
    return _mla(q_nope, q_pe, ckv_cache, kpe_cache, qo_indptr, kv_indptr, kv_indices, kv_last_page_len, sm_scale, causal=False)


def mla_prefill(q_nope, q_pe, ckv_cache, kpe_cache, qo_indptr, kv_indptr, kv_indices, kv_last_page_len, sm_scale):
    return _mla(q_nope, q_pe, ckv_cache, kpe_cache, qo_indptr, kv_indptr, kv_indices, kv_last_page_len, sm_scale, causal=True)


CHECKS = [
    (KernelSpec(family="gqa_paged_decode", axes=GQA, stage="decode"), gqa_decode),
    (KernelSpec(family="gqa_paged_prefill", axes=GQA, stage="prefill"), gqa_prefill),
    (KernelSpec(family="mla_paged_decode", axes=MLA, stage="decode"), mla_decode),
    (KernelSpec(family="mla_paged_prefill", axes=MLA, stage="prefill"), mla_prefill),
]


def main() -> int:
    failed = 0
    for spec, kernel in CHECKS:
        definition = build_definition(spec, BuildContext(model_slug="gpu-check"))
        reference = load_reference(definition["reference"], definition["name"])
        for case in default_cases(definition, "verify"):
            inputs = make_inputs(definition, case, device="cuda")
            expected = reference(*inputs)
            actual = kernel(*inputs)
            errors = [float((a.float() - e.float()).abs().max()) for a, e in zip(actual, expected)]
            ok = all(torch.allclose(a.float(), e.float(), atol=TOLERANCE, rtol=TOLERANCE) for a, e in zip(actual, expected))
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {definition['name']} [{case.label}] max abs error output {errors[0]:.3g} lse {errors[1]:.3g}", flush=True)
    print(f"{failed} case(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
