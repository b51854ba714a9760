"""Argument types and argument groups shared by sub-commands."""

from __future__ import annotations

import argparse


def int_list(text: str) -> list[int]:
    """`8` or `2,4` -> [8] or [2, 4]."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def stage_list(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    bad = [v for v in values if v not in ("prefill", "decode")]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"execution modes are prefill and/or decode, got {text!r}")
    return values


def _bounded(text: str, convert, valid, expected: str):
    """`convert(text)` if it parses and satisfies `valid`, else an argparse error naming `expected`."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not valid(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _bounded(text, int, lambda v: v >= 1, "a positive integer")


def positive_float(text: str) -> float:
    # `not v <= 0` would let NaN through; `v > 0` does not.
    return _bounded(text, float, lambda v: v > 0, "a positive number")


def non_negative_int(text: str) -> int:
    return _bounded(text, int, lambda v: v >= 0, "an integer >= 0")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Which model, and the serving profile to plan it at (extract, baseline)."""
    parser.add_argument("--model-name", required=True, metavar="NAME", help="model name, alias or HF repo id (e.g. llama, kimi, Qwen/Qwen3-8B); see `agent models`")
    parser.add_argument("--config", metavar="PATH", help="the model's HF config.json (required for models not in the catalog)")
    parser.add_argument("--tp", type=int_list, metavar="N[,N]", help="tensor-parallel size(s); default: the model's serving profile")
    parser.add_argument("--ep", type=int_list, metavar="N[,N]", help="expert-parallel size(s) for MoE models")
    parser.add_argument("--page-sizes", type=int_list, metavar="N[,N]", help="KV-cache page sizes (default: the model's serving profile, 1,64 for most)")


def add_sglang_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where SGLang's sources come from (every command that reads them)."""
    source = parser.add_argument_group("SGLang sources")
    source.add_argument("--sglang-path", metavar="DIR", help="a SGLang checkout or unpacked wheel (default: installed sglang, else download)")
    source.add_argument("--sglang-version", metavar="V", help="SGLang release to download (default: the tested one; `latest` for the newest)")
    source.add_argument("--offline", action="store_true", help="never download SGLang; use the cache or --sglang-path")
    parser.add_argument("--cache-dir", metavar="DIR", help="where downloaded SGLang sources are kept")
