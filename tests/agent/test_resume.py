"""A signalled run stops at once, and `--resume` finishes it from its checkpoint.

The tiny Gemma 3 asks the LLM for several kernels, one at a time. The endpoint holds its
answer to the pooling layer's for 60 s; when that request arrives (the event the test waits for, not a guess of
how long the run takes), the run gets SIGINT or SIGTERM. It must exit within 5 s with
130 or 143, leaving its checkpoint and no definition; then `--resume` asks the LLM only
the question that was cut off, and ends with exactly the definitions of a run never
interrupted. The agent is started as a non-interactive shell starts a background job,
with SIGINT ignored: the way the run that ignored Ctrl-C was started (issue 17).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent import exit_codes
from agent.checkpoint import checkpoint_path
from tests.agent import scripted_drafts as drafts
from tests.agent.openai_server import Reply, ScriptedOpenAI
from tests.agent.processes import REPO, STOP_WITHIN_S, Agent, agent_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")

CONFIG = REPO / "tests" / "fixtures" / "tiny-gemma3.json"
HOLD_S = 60.0
HELD = "nn.AvgPool2d"  # the request the endpoint holds: asked after VisionAttention's was answered


def arguments(root: Path, url: str, *extra: str) -> list[str]:
    return ["extract", "--model-name", "tiny-gemma3", "--config", str(CONFIG), "--output", str(root), "--execution-modes", "decode",
            "--page-sizes", "1", "--llm-base-url", url, "--llm-model", "scripted", "--llm-retries", "0", *extra]


def answer(body: dict, n: int) -> Reply:
    if drafts.drafted_class(body) == "VisionAttention":
        return Reply(drafts.as_reply(drafts.vision_attention()))
    return Reply(drafts.default_reply(body))


def extract(root: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *arguments(root, url, *extra)], capture_output=True, text=True, env=agent_env(), cwd=REPO)


def definitions(root: Path) -> dict[str, str]:
    base = root / "definitions"
    return {str(p.relative_to(base)): p.read_text() for p in sorted(base.rglob("*.json"))}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, sglang_source):
    """A run never interrupted: its dataset, and the requests it sent (one per kernel)."""
    root = tmp_path_factory.mktemp("uninterrupted") / "ds"
    with ScriptedOpenAI(answer) as server:
        run = extract(root, server.url)
    assert run.returncode == exit_codes.SUCCESS, run.stderr
    asked = [drafts.drafted_class(b) for b in server.requests]
    assert asked.count("VisionAttention") == 1 and asked.count(HELD) == 1 and asked.index("VisionAttention") < asked.index(HELD), asked
    return root, server.requests


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, exit_codes.INTERRUPTED), (signal.SIGTERM, exit_codes.TERMINATED)])
def test_a_signal_during_an_llm_request_stops_the_run_and_resume_asks_only_what_was_not_answered(tmp_path, uninterrupted, signum, status):
    expected_root, expected_requests = uninterrupted
    held = [drafts.drafted_class(b) for b in expected_requests].index(HELD)
    root = tmp_path / "ds"
    interrupted = True

    def script(body: dict, n: int) -> Reply:
        reply = answer(body, n)
        if interrupted and drafts.drafted_class(body) == HELD:
            reply.delay_s = HOLD_S
        return reply

    with ScriptedOpenAI(script) as server:
        agent = Agent(*arguments(root, server.url))
        server.wait_for_request(lambda body: drafts.drafted_class(body) == HELD, still_waiting=lambda: agent.running)
        stopped = agent.stop(signum)
        assert stopped.status == status, stopped.stderr
        assert stopped.seconds < STOP_WITHIN_S, f"took {stopped.seconds:.1f} s to stop"
        assert stopped.started == set() and stopped.left == set()  # drafting starts no process
        assert "--resume" in stopped.stderr
        assert checkpoint_path(root).is_file()
        assert not (root / "definitions").exists()  # nothing is committed before the commit node
        assert server.requests == expected_requests[: held + 1]  # the earlier answers arrived; the held one was cut off

        interrupted = False
        resumed = extract(root, server.url, "--resume")
        assert resumed.returncode == exit_codes.SUCCESS, resumed.stderr
        assert "[resume] continuing at draft" in resumed.stderr
        # The question that was cut off, asked again word for word, then the rest; the answered ones, not at all.
        assert server.requests[held + 1 :] == expected_requests[held:]

    assert definitions(root) == definitions(expected_root)
    assert not checkpoint_path(root).exists()
    (report,) = (root / "reports").glob("*.json")
    # Every kernel written once, none as a versioned conflict copy, none left pending.
    assert [e["outcome"] for e in json.loads(report.read_text())["entries"]] == ["new"] * len(definitions(root))


def test_a_finished_run_leaves_no_checkpoint_and_a_rerun_asks_the_llm_nothing(uninterrupted):
    root, _ = uninterrupted
    assert not checkpoint_path(root).exists()
    before = definitions(root)
    with ScriptedOpenAI(lambda body, n: Reply("unused")) as server:
        again = extract(root, server.url, "--resume")
    assert again.returncode == exit_codes.SUCCESS, again.stderr
    assert "no interrupted run of this command" in again.stderr
    assert server.requests == []  # every drafted kernel was recalled from the store, none redrafted
    assert definitions(root) == before
