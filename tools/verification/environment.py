"""Where a verification ran: the versions and the GPU that its verdicts hold for."""

from __future__ import annotations

import importlib
import importlib.util
import platform
import sys
from importlib import metadata
from typing import Literal

from pydantic import BaseModel


class Environment(BaseModel):
    """The machine and software a verification ran on."""

    device: Literal["gpu", "cpu"]
    """`gpu`: references were compared against FlashInfer; `cpu`: only the CPU checks ran."""
    gpu_name: str | None = None
    compute_capability: str | None = None
    """`9.0` for Hopper: which bindings can run (some kernels are SM90-only)."""
    cuda: str | None = None
    """The CUDA version torch was built with."""
    torch: str
    flashinfer: str | None = None
    flashinfer_bench: str | None = None
    python: str
    platform: str


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _imported_version(module: str) -> str | None:
    """For packages unpacked without their metadata (as on an offline GPU machine)."""
    return getattr(importlib.import_module(module), "__version__", None)


def current_compute_capability() -> tuple[int, int] | None:
    import torch

    return tuple(torch.cuda.get_device_capability(0)) if torch.cuda.is_available() else None  # type: ignore[return-value]


def parse_compute_capability(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    major, minor = text.split(".")
    return int(major), int(minor)


def gpu_available() -> bool:
    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("flashinfer") is not None


def probe_environment(*, use_gpu: bool = True) -> Environment:
    """This machine; `device` is `gpu` only when a CUDA GPU and FlashInfer are there and wanted."""
    import torch

    on_gpu = use_gpu and gpu_available()
    return Environment(
        device="gpu" if on_gpu else "cpu",
        gpu_name=torch.cuda.get_device_name(0) if on_gpu else None,
        compute_capability=".".join(map(str, torch.cuda.get_device_capability(0))) if on_gpu else None,
        cuda=torch.version.cuda,
        torch=torch.__version__,
        flashinfer=_version("flashinfer-python") or (_imported_version("flashinfer") if on_gpu else None),
        flashinfer_bench=_version("flashinfer-bench"),
        python=sys.version.split()[0],
        platform=platform.platform(),
    )
