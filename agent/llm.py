"""The LLM client: any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, Ollama).

It sits on the official `openai` package, which retries connection failures, timeouts,
429 and 5xx answers with exponential backoff (honouring `Retry-After`). On top of that,
`structured()` parses each reply into a typed value; a reply that does not parse is
sent back with what was wrong, within a budget of format retries. Every request's
tokens are counted, and priced when a price per token is configured.

Errors::

    LLMError                       the LLM could not give a usable answer
    ├── LLMUnavailableError        unreachable, timed out, or failing after the retries
    ├── LLMRejectedError           the endpoint refused the request (key, model name,
    │                              or this request only: too long, malformed)
    └── MalformedReplyError        replies still unusable after the format retries;
                                   recoverable: the caller counts a failed attempt
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

import openai
from pydantic import BaseModel, Field, SecretStr

from agent.state import TokenUsage
from tools.drafting.reply import ReplyProblem

T = TypeVar("T")


class LLMSettings(BaseModel):
    """Which endpoint and model, and the limits of the LLM stage."""

    model: str
    """Model name as the endpoint knows it, e.g. `gpt-4.1`, `Qwen/Qwen3-32B`."""
    base_url: str | None = None
    """OpenAI-compatible base URL, e.g. `http://localhost:8000/v1`; None: OpenAI's."""
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    """From OPENAI_API_KEY; local servers usually need none."""
    timeout_s: float = 300.0
    """Limit for one HTTP request."""
    max_retries: int = 3
    """Retries of one request after a connection failure, timeout, 429 or 5xx."""
    max_attempts: int = 3
    """Drafts per kernel: the first and its repairs."""
    max_format_retries: int = 2
    """Re-asks per draft when a reply is not the JSON object asked for."""
    temperature: float | None = None
    """Sampling temperature; None leaves the endpoint's default (some models accept no other)."""
    price_per_mtok_input: float | None = None
    """USD per million prompt tokens; with the output price, enables cost accounting."""
    price_per_mtok_output: float | None = None
    """USD per million completion tokens."""
    token_budget: int | None = None
    """Stop drafting once this many tokens (prompt + completion) have been used in the run."""

    def cost(self, usage: TokenUsage) -> float | None:
        if self.price_per_mtok_input is None or self.price_per_mtok_output is None:
            return None
        return (usage.prompt_tokens * self.price_per_mtok_input + usage.completion_tokens * self.price_per_mtok_output) / 1e6


class LLMError(Exception):
    """The LLM could not give a usable answer; `usage` is what was spent trying."""

    def __init__(self, message: str, *, usage: TokenUsage | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage or TokenUsage()


class LLMUnavailableError(LLMError):
    """Connection refused, timed out, or 429/5xx after every retry."""


class LLMRejectedError(LLMError):
    """A 4xx answer other than 408/409/429: retrying the same request cannot help."""

    def __init__(self, message: str, *, status: int, usage: TokenUsage | None = None) -> None:
        super().__init__(message, usage=usage)
        self.status = status

    @property
    def about_this_request(self) -> bool:
        """True when the request itself was refused (too long, malformed), not the client
        (key, permissions, model name): other requests may still succeed."""
        return self.status in (400, 413, 422)


class MalformedReplyError(LLMError):
    """Every reply within the format-retry budget was unusable."""

    def __init__(self, message: str, *, raw: str, problems: list[str], usage: TokenUsage) -> None:
        super().__init__(message, usage=usage)
        self.raw = raw
        self.problems = problems


@dataclass
class StructuredReply(Generic[T]):
    value: T
    raw: str
    """The reply text the value was parsed from."""
    usage: TokenUsage
    """All requests of this exchange, format retries included."""
    format_retries: int


Message = dict[str, str]


class LLMClient:
    """Chat completions against one endpoint and model."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        # Local servers (vLLM, SGLang, Ollama) ignore the key, but the client requires one.
        key = settings.api_key.get_secret_value() if settings.api_key else "not-needed"
        self._client = openai.OpenAI(base_url=settings.base_url, api_key=key, timeout=settings.timeout_s, max_retries=settings.max_retries)

    @property
    def endpoint(self) -> str:
        return str(self._client.base_url).rstrip("/")

    def chat(self, messages: list[Message]) -> tuple[str, TokenUsage]:
        """One completion: the reply text and its token usage."""
        extra = {} if self.settings.temperature is None else {"temperature": self.settings.temperature}
        try:
            response = self._client.chat.completions.create(model=self.settings.model, messages=messages, **extra)
        except openai.APITimeoutError as exc:
            raise LLMUnavailableError(
                f"{self.endpoint} did not answer within {self.settings.timeout_s:g} s ({self.settings.max_retries} retries)"
            ) from exc
        except openai.APIConnectionError as exc:
            raise LLMUnavailableError(f"cannot reach {self.endpoint}: {_cause(exc)} ({self.settings.max_retries} retries)") from exc
        except openai.APIStatusError as exc:
            detail = f"{exc.status_code} {_status_message(exc)}"
            if exc.status_code in (408, 409, 429) or exc.status_code >= 500:
                raise LLMUnavailableError(f"{self.endpoint} kept failing: {detail} ({self.settings.max_retries} retries)") from exc
            raise LLMRejectedError(f"{self.endpoint} refused the request: {detail}{_rejection_hint(exc.status_code)}", status=exc.status_code) from exc
        usage = TokenUsage(requests=1)
        if response.usage is not None:
            usage = TokenUsage(requests=1, prompt_tokens=response.usage.prompt_tokens or 0, completion_tokens=response.usage.completion_tokens or 0)
        usage = usage.model_copy(update={"cost_usd": self.settings.cost(usage)})
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice and choice.message else None) or ""
        return text, usage

    def structured(self, messages: list[Message], parse: Callable[[str], T], correction: Callable[[list[str]], str]) -> StructuredReply[T]:
        """Ask until `parse` accepts a reply, at most 1 + max_format_retries times.

        `parse` raises ReplyProblem for an unusable reply; `correction(problems)` is the
        message that tells the model what to fix.
        """
        conversation = list(messages)
        spent = TokenUsage()
        for retry in range(self.settings.max_format_retries + 1):
            try:
                text, usage = self.chat(conversation)
            except LLMError as exc:
                exc.usage = spent + exc.usage
                raise
            spent = spent + usage
            try:
                return StructuredReply(value=parse(text), raw=text, usage=spent, format_retries=retry)
            except ReplyProblem as problem:
                problems = problem.problems
            conversation += [{"role": "assistant", "content": text}, {"role": "user", "content": correction(problems)}]
        raise MalformedReplyError(
            f"{self.settings.max_format_retries + 1} replies in a row were unusable: " + "; ".join(problems[:3]),
            raw=text,
            problems=problems,
            usage=spent,
        )


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return exc.message


def _rejection_hint(status: int) -> str:
    if status in (401, 403):
        return " (check OPENAI_API_KEY)"
    if status == 404:
        return " (check --llm-model and --llm-base-url)"
    return ""
