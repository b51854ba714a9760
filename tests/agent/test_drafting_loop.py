"""The LLM path end to end: `agent extract` on a real SGLang model, a scripted
OpenAI-compatible server on loopback, real sandboxed checks, real files on disk.

The model is a tiny Gemma 3 (tests/fixtures/tiny-gemma3.json). Its SigLIP vision tower
builds `VisionAttention`, a module the parser has no kernel mapping for, so no template
can cover it: the drafting target of these tests. Gemma3RMSNorm kernels may be pending
too (today no rule covers them); the server drafts them correctly whenever asked, and no
assertion depends on whether they are.
"""

from __future__ import annotations

import json
import math
import socket
import time
from pathlib import Path

import torch

from agent import exit_codes
from agent.cli import main
from tests.agent import scripted_drafts as drafts
from tests.agent.openai_server import Reply, ScriptedOpenAI

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "tiny-gemma3.json"
VISION = drafts.VISION_NAME
# Tokens the server reports for each vision reply, so totals can be checked exactly.
VISION_PROMPT_TOKENS, VISION_COMPLETION_TOKENS = 1500, 300


def extract(root: Path, server_url: str | None, *extra: str) -> int:
    args = ["extract", "--model-name", "tiny-gemma3", "--config", str(CONFIG), "--output", str(root), "--quiet",
            "--execution-modes", "decode", "--page-sizes", "1", "--verify-timeout", "8"]
    if server_url:
        args += ["--llm-base-url", server_url, "--llm-model", "scripted", "--llm-retries", "0", "--llm-timeout", "20"]
    return main(args + list(extra))


def scripted(vision_replies):
    """Vision drafts from `vision_replies(body, k)` (k counts vision requests from 1); norms drafted right."""
    vision_count = 0

    def script(body, n):
        nonlocal vision_count
        if drafts.drafted_class(body) == "VisionAttention":
            vision_count += 1
            reply = vision_replies(body, vision_count)
            reply.prompt_tokens, reply.completion_tokens = VISION_PROMPT_TOKENS, VISION_COMPLETION_TOKENS
            return reply
        return Reply(drafts.default_reply(body))

    return script


def vision_requests(server):
    return [r for r in server.requests if drafts.drafted_class(r) == "VisionAttention"]


def last_user_message(body):
    return [m["content"] for m in body["messages"] if m["role"] == "user"][-1]


def report_of(root: Path) -> dict:
    (path,) = (root / "reports").glob("extract-tiny-gemma3-*.json")
    return json.loads(path.read_text())


def entry(report: dict, name: str) -> dict:
    return next(e for e in report["entries"] if e["name"] == name)


def stored(root: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (root / "definitions").glob("*/*.json")}


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def wrong_then_right(body, k):
    return Reply(drafts.as_reply(drafts.vision_attention(right=k > 1)))


def test_a_wrong_draft_is_rejected_with_a_report_and_the_repair_is_committed(tmp_path):
    root = tmp_path / "ds"
    with ScriptedOpenAI(scripted(wrong_then_right)) as server:
        assert extract(root, server.url) == exit_codes.SUCCESS
    first, repair = vision_requests(server)
    # The repair request carries the failed reply and the check's mismatch report.
    assert repair["messages"][-2] == {"role": "assistant", "content": drafts.as_reply(drafts.vision_attention(right=False))}
    report_text = last_user_message(repair)
    assert "failed verification (attempt 1 of 3)" in report_text
    assert "output 'output' has shape [1, 4, 16, 32], expected [1, 16, 4, 32]" in report_text

    definition = stored(root)[VISION]
    assert definition["reference"] == drafts.vision_attention(right=True)["reference"]
    # The dataset's tags only: that an LLM drafted it is in the report and .agent/drafted.json.
    assert definition["tags"] == ["status:unverified", "model:tiny-gemma3", "tp:1"]
    from flashinfer_bench.data import Definition

    Definition.model_validate(definition)

    report = report_of(root)
    vision = entry(report, VISION)
    assert vision["outcome"] == "new" and vision["origin"] == "llm" and vision["llm_attempts"] == 2
    assert vision["llm_usage"]["requests"] == 2
    assert vision["llm_usage"]["prompt_tokens"] == 2 * VISION_PROMPT_TOKENS
    assert vision["llm_usage"]["completion_tokens"] == 2 * VISION_COMPLETION_TOKENS
    assert vision["check"].startswith("reference ran on 2 CPU cases")
    assert report["llm"]["model"] == "scripted" and report["llm"]["usage"]["requests"] == len(server.requests)
    assert report["draft_command"] is None


def test_the_committed_vision_reference_computes_what_sglang_computes(tmp_path):
    """The scripted right draft is SGLang's VisionAttention core: unmasked softmax attention
    per image with scale head_dim ** -0.5, as its sdpa backend computes it."""
    namespace: dict = {}
    exec(drafts.vision_attention(right=True)["reference"], namespace)  # our own test code, not a draft
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, drafts.VISION_PATCHES, drafts.VISION_HEADS, drafts.VISION_HEAD_DIM, generator=generator) for _ in range(3))
    expected = torch.nn.functional.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v))).transpose(1, 2)
    assert torch.allclose(namespace["run"](q, k, v), expected, atol=1e-5)
    assert math.isclose(1 / math.sqrt(drafts.VISION_HEAD_DIM), drafts.VISION_HEAD_DIM**-0.5)


def test_without_an_endpoint_kernels_are_pending_with_the_command_that_drafts_them(tmp_path, capsys):
    root = tmp_path / "ds"
    assert extract(root, None) == exit_codes.INCOMPLETE
    report = report_of(root)
    pending = entry(report, "vision_tower.vision_model.encoder.layers.*.self_attn")
    assert pending["outcome"] == "pending" and "VisionAttention at sglang/srt/models/siglip.py:114-124" in pending["note"]
    assert report["draft_command"].startswith(f"agent extract --model-name tiny-gemma3 --config {CONFIG}")
    assert f"--output {root}" in report["draft_command"] and report["draft_command"].endswith("--llm-base-url <URL> --llm-model <MODEL>")
    assert "to draft the pending kernels with an LLM: agent extract" in capsys.readouterr().out
    assert any(name.startswith("gemm_") for name in stored(root))  # templates still ran


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_endpoint_that_is_down_leaves_llm_kernels_pending_and_commits_the_rest(tmp_path):
    root = tmp_path / "ds"
    assert extract(root, f"http://127.0.0.1:{free_port()}/v1") == exit_codes.INCOMPLETE
    report = report_of(root)
    assert "LLM stage stopped: cannot reach http://127.0.0.1" in report["llm"]["stopped"]
    assert entry(report, "vision_tower.vision_model.encoder.layers.*.self_attn")["outcome"] == "pending"
    assert VISION not in stored(root) and any(name.startswith("gemm_") for name in stored(root))


def test_an_endpoint_that_times_out_stops_the_llm_stage(tmp_path):
    root = tmp_path / "ds"
    started = time.monotonic()
    with ScriptedOpenAI(lambda body, n: Reply("too late", delay_s=5)) as server:
        assert extract(root, server.url, "--llm-timeout", "0.5") == exit_codes.INCOMPLETE
    assert len(server.requests) == 1  # stopped after the first: no kernel waits out the same timeout
    assert "did not answer within 0.5 s" in report_of(root)["llm"]["stopped"]
    assert time.monotonic() - started < 120


def test_malformed_json_is_sent_back_and_the_corrected_reply_is_used(tmp_path):
    root = tmp_path / "ds"
    broken = drafts.as_reply(drafts.vision_attention())[:-40]  # cut off mid-object

    with ScriptedOpenAI(scripted(lambda body, k: Reply(broken if k == 1 else drafts.as_reply(drafts.vision_attention())))) as server:
        assert extract(root, server.url) == exit_codes.SUCCESS
    first, second = vision_requests(server)
    assert second["messages"][-2]["content"] == broken
    assert "Your reply could not be used" in last_user_message(second) and "does not parse" in last_user_message(second)
    vision = entry(report_of(root), VISION)
    assert vision["llm_attempts"] == 1 and vision["llm_usage"]["requests"] == 2  # a format retry is not a new draft
    assert VISION in stored(root)


def bad_first(reference: str):
    def replies(body, k):
        return Reply(drafts.as_reply(drafts.vision_attention(reference=reference) if k == 1 else drafts.vision_attention()))

    return replies


def test_a_reference_that_hangs_is_stopped_and_repaired(tmp_path):
    root = tmp_path / "ds"
    hangs = "import torch\n\n\ndef run(q, k, v):\n    while True:\n        pass\n"
    started = time.monotonic()
    with ScriptedOpenAI(scripted(bad_first(hangs))) as server:
        assert extract(root, server.url) == exit_codes.SUCCESS
    assert "timed out after 8 s" in last_user_message(vision_requests(server)[1])
    assert stored(root)[VISION]["reference"] == drafts.vision_attention()["reference"]
    assert time.monotonic() - started < 150


def test_a_reference_importing_os_is_refused_before_it_runs_and_repaired(tmp_path):
    root = tmp_path / "ds"
    marker = tmp_path / "escaped"
    escapes = f"import os\nimport torch\n\n\ndef run(q, k, v):\n    os.system('touch {marker}')\n    return q\n"
    with ScriptedOpenAI(scripted(bad_first(escapes))) as server:
        assert extract(root, server.url) == exit_codes.SUCCESS
    report_text = last_user_message(vision_requests(server)[1])
    assert "static check: line 1: imports os" in report_text
    assert not marker.exists()
    assert VISION in stored(root)


def test_a_reference_writing_a_file_is_stopped_by_the_sandbox_and_repaired(tmp_path):
    root = tmp_path / "ds"
    target = tmp_path / "written.npy"
    # Passes the static check (it names no known writer): the sandbox is the barrier here.
    writes = f"import torch\n\n\ndef run(q, k, v):\n    q.float().numpy().dump({str(target)!r})\n    return q\n"
    with ScriptedOpenAI(scripted(bad_first(writes))) as server:
        assert extract(root, server.url) == exit_codes.SUCCESS
    report_text = last_user_message(vision_requests(server)[1])
    assert "may not write files" in report_text
    assert not target.exists()
    assert VISION in stored(root)


def test_exhausted_attempts_leave_the_kernel_out_and_write_nothing_for_it(tmp_path):
    root = tmp_path / "ds"
    with ScriptedOpenAI(scripted(lambda body, k: Reply(drafts.as_reply(drafts.vision_attention(right=False))))) as server:
        assert extract(root, server.url, "--llm-max-attempts", "2") == exit_codes.INCOMPLETE
    assert len(vision_requests(server)) == 2
    report = report_of(root)
    vision = entry(report, VISION)
    assert vision["outcome"] == "failed" and vision["llm_attempts"] == 2
    assert "left out after 2 LLM drafts; nothing written" in vision["note"]
    assert "expected [1, 16, 4, 32]" in vision["check"]
    assert not [f for f in all_files(root) if VISION in f or f.endswith(".tmp")]
    assert report["exit_status"] == exit_codes.INCOMPLETE


def test_a_spent_token_budget_stops_drafting_and_keeps_what_was_drafted(tmp_path):
    root = tmp_path / "ds"
    with ScriptedOpenAI(scripted(lambda body, k: Reply(drafts.as_reply(drafts.vision_attention())))) as server:
        # Every reply costs over 1000 tokens: the budget is spent after the first draft.
        assert extract(root, server.url, "--llm-token-budget", "1000") == exit_codes.INCOMPLETE
    report = report_of(root)
    assert len(server.requests) == 1
    assert report["llm"]["stopped"].startswith("LLM stage stopped: token budget of 1000 spent")
    drafted = [e for e in report["entries"] if e["origin"] == "llm" and e["outcome"] == "new"]
    assert len(drafted) == 1 and drafted[0]["llm_usage"]["requests"] == 1
    assert len([e for e in report["entries"] if e["outcome"] == "pending"]) >= 1


def test_a_numerical_verifier_plugs_in_and_its_mismatches_reach_the_repair_prompt(tmp_path, monkeypatch):
    """A GPU comparison (issue 4) returns ReferenceChecks with `mismatches`; registering it
    as a verifier is all it takes for the loop to send its findings back to the LLM."""
    from tools.verification import verifier
    from tools.verification.reference_check import (
        OutputMismatch,
        ReferenceCheck,
        WrongValue,
        check_references,
    )

    def compares_with_a_kernel(definitions, *, limits=None):
        results = check_references([d for d in definitions if d["name"] != VISION], limits=limits)
        for d in (d for d in definitions if d["name"] == VISION):
            # Stands in for running the real kernel: the first draft is the "numerically wrong" one.
            wrong = "permute" not in d["reference"]
            mismatch = OutputMismatch(output="output", case="4 images", shape=[4, 16, 4, 32], expected_shape=[4, 16, 4, 32],
                                      max_abs_error=1.75, max_rel_error=0.9, wrong=4000, total=8192, sample=[WrongValue(index=[0, 1, 2, 3], expected=0.5, actual=-1.25)])
            results[VISION] = ReferenceCheck(name=VISION, passed=not wrong, error="output 'output' differs from the kernel" if wrong else None,
                                             summary="matches the kernel on 1 case" if not wrong else None, mismatches=[mismatch] if wrong else [])
        return results

    monkeypatch.setitem(verifier.VERIFIERS, "kernel", compares_with_a_kernel)
    monkeypatch.setattr(verifier, "AUTO_ORDER", ("kernel", "cpu"))
    root = tmp_path / "ds"
    with ScriptedOpenAI(scripted(wrong_then_right)) as server:
        assert extract(root, server.url) == exit_codes.SUCCESS
    report_text = last_user_message(vision_requests(server)[1])
    assert "output 'output' (case '4 images') differs from the expected values" in report_text
    assert "max abs error 1.75, max rel error 0.9" in report_text and "at [0, 1, 2, 3]: expected 0.5, got -1.25" in report_text
    assert entry(report_of(root), VISION)["check"] == "matches the kernel on 1 case"


def test_a_request_the_endpoint_refuses_leaves_that_kernel_out_and_drafting_goes_on(tmp_path):
    root = tmp_path / "ds"
    too_long = lambda body, k: Reply(status=400, error="This model's maximum context length is 8192 tokens")
    with ScriptedOpenAI(scripted(too_long)) as server:
        assert extract(root, server.url) == exit_codes.INCOMPLETE
    report = report_of(root)
    assert len(vision_requests(server)) == 1  # refused requests are not repeated
    assert report["llm"]["stopped"] is None
    failed = [e for e in report["entries"] if e["outcome"] == "failed"]
    assert len(failed) == 1 and "400 This model's maximum context length" in failed[0]["check"]
    assert not [e for e in report["entries"] if e["outcome"] == "pending"]  # every other kernel was drafted


def test_a_dry_run_asks_the_llm_nothing_and_writes_nothing(tmp_path):
    root = tmp_path / "ds"
    with ScriptedOpenAI(scripted(wrong_then_right)) as server:
        assert extract(root, server.url, "--dry-run") == exit_codes.INCOMPLETE
    assert server.requests == [] and not root.exists()
