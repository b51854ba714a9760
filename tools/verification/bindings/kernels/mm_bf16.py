"""FlashInfer baseline for `gemm_n*_k*` definitions: `flashinfer.gemm.mm_bf16`, C = A @ B.

B is the [K, N] weight; mm_bf16 reads it column-major (B.T contiguous, the layout of an
nn.Linear weight), so a row-major B is viewed that way first.
"""

import importlib.util

import flashinfer

# cuDNN is mm_bf16's default backend; without the cuDNN Python frontend, cuBLASLt.
BACKEND = "cudnn" if importlib.util.find_spec("cudnn") is not None else "cublaslt"


def run(A, B):
    b = B if B.t().is_contiguous() else B.t().contiguous().t()
    return flashinfer.gemm.mm_bf16(A, b, backend=BACKEND)
