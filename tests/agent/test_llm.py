"""The LLM client against a real OpenAI-compatible HTTP server on loopback."""

import json
import socket
import time

import pytest

from agent.llm import LLMClient, LLMRejectedError, LLMSettings, LLMUnavailableError, MalformedReplyError
from tests.agent.openai_server import Reply, ScriptedOpenAI
from tools.drafting.reply import ReplyProblem


def settings(server_url, **overrides):
    return LLMSettings(**{"model": "scripted-model", "base_url": server_url, "timeout_s": 5, "max_retries": 2, **overrides})


def parse_answer(text):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplyProblem([f"not JSON: {exc.msg}"]) from None
    if "answer" not in data:
        raise ReplyProblem(["no field `answer`"])
    return data["answer"]


def correction(problems):
    return "fix: " + "; ".join(problems)


def test_a_completion_returns_text_and_token_usage_and_sends_the_model():
    with ScriptedOpenAI(lambda body, n: Reply("hello", prompt_tokens=123, completion_tokens=45)) as server:
        text, usage = LLMClient(settings(server.url)).chat([{"role": "user", "content": "hi"}])
    assert text == "hello"
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (1, 123, 45)
    assert usage.cost_usd is None  # no price configured: no cost claimed
    assert server.requests[0]["model"] == "scripted-model"
    assert server.requests[0]["messages"] == [{"role": "user", "content": "hi"}]


def test_cost_is_computed_from_configured_prices():
    with ScriptedOpenAI(lambda body, n: Reply("x", prompt_tokens=2_000_000, completion_tokens=500_000)) as server:
        _, usage = LLMClient(settings(server.url, price_per_mtok_input=2.0, price_per_mtok_output=8.0)).chat([{"role": "user", "content": "hi"}])
    assert usage.cost_usd == pytest.approx(2 * 2.0 + 0.5 * 8.0)


def test_a_503_is_retried_with_backoff_and_then_succeeds():
    script = lambda body, n: Reply(status=503, error="overloaded", headers={"retry-after-ms": "50"}) if n == 1 else Reply("ok")
    with ScriptedOpenAI(script) as server:
        text, usage = LLMClient(settings(server.url)).chat([{"role": "user", "content": "hi"}])
    assert text == "ok" and len(server.requests) == 2


def test_a_server_that_keeps_failing_is_unavailable_after_the_retries():
    with ScriptedOpenAI(lambda body, n: Reply(status=500, error="boom", headers={"retry-after-ms": "10"})) as server:
        with pytest.raises(LLMUnavailableError, match="500 boom"):
            LLMClient(settings(server.url, max_retries=2)).chat([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 3  # the first try and two retries


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_endpoint_that_is_down_is_unavailable():
    client = LLMClient(settings(f"http://127.0.0.1:{free_port()}/v1", max_retries=0))
    with pytest.raises(LLMUnavailableError, match="cannot reach http://127.0.0.1"):
        client.chat([{"role": "user", "content": "hi"}])


def test_a_slow_endpoint_times_out():
    with ScriptedOpenAI(lambda body, n: Reply("late", delay_s=3)) as server:
        started = time.monotonic()
        with pytest.raises(LLMUnavailableError, match="did not answer within 0.5 s"):
            LLMClient(settings(server.url, timeout_s=0.5, max_retries=0)).chat([{"role": "user", "content": "hi"}])
    assert time.monotonic() - started < 2.5


def test_a_refused_key_is_rejected_with_a_hint_and_not_retried():
    with ScriptedOpenAI(lambda body, n: Reply(status=401, error="invalid api key")) as server:
        with pytest.raises(LLMRejectedError, match="401 invalid api key.*OPENAI_API_KEY"):
            LLMClient(settings(server.url)).chat([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 1


def test_a_malformed_reply_is_sent_back_with_the_problem_and_the_next_one_is_used():
    replies = {1: Reply("I think the answer is 4", prompt_tokens=10, completion_tokens=5), 2: Reply('{"answer": 4}', prompt_tokens=30, completion_tokens=7)}
    with ScriptedOpenAI(lambda body, n: replies[n]) as server:
        reply = LLMClient(settings(server.url)).structured([{"role": "user", "content": "2+2?"}], parse_answer, correction)
    assert reply.value == 4 and reply.format_retries == 1
    assert (reply.usage.requests, reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2, 40, 12)
    second = server.requests[1]["messages"]
    assert second[1] == {"role": "assistant", "content": "I think the answer is 4"}
    assert second[2]["role"] == "user" and second[2]["content"].startswith("fix: not JSON")


def test_replies_malformed_beyond_the_budget_raise_with_the_usage_spent():
    with ScriptedOpenAI(lambda body, n: Reply('{"result": 4}', prompt_tokens=10, completion_tokens=1)) as server:
        with pytest.raises(MalformedReplyError) as caught:
            LLMClient(settings(server.url, max_format_retries=2)).structured([{"role": "user", "content": "2+2?"}], parse_answer, correction)
    assert len(server.requests) == 3
    assert caught.value.problems == ["no field `answer`"] and caught.value.raw == '{"result": 4}'
    assert caught.value.usage.requests == 3 and caught.value.usage.prompt_tokens == 30
