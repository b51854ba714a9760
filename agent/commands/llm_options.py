"""The LLM endpoint options, shared by every command that can draft with an LLM."""

from __future__ import annotations

import argparse
import os

from agent.commands.options import non_negative_int, positive_float, positive_int
from tools.errors import ExtractionError


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    llm = parser.add_argument_group("LLM drafting (any OpenAI-compatible endpoint; key from OPENAI_API_KEY)")
    llm.add_argument("--llm-model", metavar="NAME", help="model to draft kernels no template covers (enables drafting)")
    llm.add_argument("--llm-base-url", metavar="URL", help="endpoint, e.g. http://localhost:8000/v1 for vLLM/SGLang, http://localhost:11434/v1 for Ollama (default: OpenAI)")
    llm.add_argument("--llm-max-attempts", type=positive_int, default=3, metavar="N", help="drafts per kernel, the first and its repairs (default 3)")
    llm.add_argument("--llm-timeout", type=positive_float, default=300.0, metavar="S", help="seconds per request (default 300)")
    llm.add_argument("--llm-retries", type=non_negative_int, default=3, metavar="N", help="retries of a request that failed to connect, timed out or got 429/5xx, with backoff (default 3)")
    llm.add_argument("--llm-temperature", type=float, metavar="T", help="sampling temperature (default: the endpoint's)")
    llm.add_argument("--llm-price-input", type=float, metavar="USD", help="price per million prompt tokens, for cost accounting")
    llm.add_argument("--llm-price-output", type=float, metavar="USD", help="price per million completion tokens")
    llm.add_argument("--llm-token-budget", type=positive_int, metavar="N", help="stop drafting after this many tokens in the run")


def llm_client(args: argparse.Namespace):
    """The LLM client when --llm-model is given; None otherwise (no openai import)."""
    if not args.llm_model:
        if args.llm_base_url:
            raise ExtractionError("--llm-base-url needs --llm-model: which model should draft?", hint="Add --llm-model NAME (as the endpoint lists it under /v1/models).")
        return None
    from agent.llm import LLMClient, LLMSettings

    key = os.environ.get("OPENAI_API_KEY")
    if not key and not args.llm_base_url:
        raise ExtractionError("OPENAI_API_KEY is not set, and no --llm-base-url names another endpoint.", hint="Export OPENAI_API_KEY, or point --llm-base-url at a local server.")
    settings = LLMSettings(
        model=args.llm_model,
        base_url=args.llm_base_url,
        api_key=key,
        timeout_s=args.llm_timeout,
        max_retries=args.llm_retries,
        max_attempts=args.llm_max_attempts,
        temperature=args.llm_temperature,
        price_per_mtok_input=args.llm_price_input,
        price_per_mtok_output=args.llm_price_output,
        token_budget=args.llm_token_budget,
    )
    return LLMClient(settings)
