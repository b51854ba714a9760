"""Standalone kernel modules: each `run(*inputs)` calls one FlashInfer API.

They are shipped verbatim as flashinfer-bench baseline solutions, so they import nothing
from this project, and each repeats the little workspace set-up it needs.
"""
