"""Standalone kernel modules: each `run(*inputs)` calls one FlashInfer API.

They are shipped verbatim as flashinfer-bench baseline solutions, so they import
nothing from this project.
"""
