"""An interrupted run resumes from its checkpoint: no LLM exchange redone, no definition
duplicated or lost, and the checkpoint file gone once the run has finished. A later run
reuses what the LLM drafted instead of drafting it again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from agent import exit_codes
from agent.checkpoint import checkpoint_path
from tests.agent import scripted_drafts as drafts
from tests.agent.openai_server import Reply, ScriptedOpenAI

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "tests" / "fixtures" / "tiny-gemma3.json"


def command(root: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", "extract", "--model-name", "tiny-gemma3", "--config", str(CONFIG), "--output", str(root),
            "--execution-modes", "decode", "--page-sizes", "1", "--llm-base-url", url, "--llm-model", "scripted", "--llm-retries", "0", *extra]


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def asked_for(body: dict) -> str:
    """Which kernel a request drafts: the class, and the norm width for norms."""
    first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    dim = re.search(r"^- dim: (\d+)", first_user, re.M)
    return drafts.drafted_class(body) + (f"/{dim.group(1)}" if dim else "")


def test_an_interrupted_run_resumes_at_the_kernel_it_stopped_at(tmp_path):
    root = tmp_path / "ds"
    vision_arrived, release = threading.Event(), threading.Event()

    def script(body, n):
        if drafts.drafted_class(body) == "VisionAttention":
            if not release.is_set():
                vision_arrived.set()
                release.wait(120)  # hold the answer until the run has been interrupted
            return Reply(drafts.as_reply(drafts.vision_attention()))
        return Reply(drafts.default_reply(body))

    with ScriptedOpenAI(script) as server:
        run = subprocess.Popen(command(root, server.url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
        assert vision_arrived.wait(240), "the run never asked for the vision kernel"
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=120)
        release.set()
        assert run.returncode == exit_codes.INTERRUPTED
        assert "--resume" in stderr
        assert checkpoint_path(root).is_file()
        assert not (root / "definitions").exists()  # nothing is committed before the commit node
        before = [asked_for(b) for b in server.requests]

        resumed = subprocess.run(command(root, server.url, "--resume"), capture_output=True, text=True, env=env())
        assert resumed.returncode == exit_codes.SUCCESS, resumed.stderr
        assert "[resume] continuing at draft" in resumed.stderr
        after = [asked_for(b) for b in server.requests][len(before):]

    # The exchange that was cut off is asked again, then the kernels not reached yet;
    # no draft finished before the interruption is asked for twice.
    assert before[-1] == "VisionAttention" and after[0] == "VisionAttention"
    assert not set(after) & set(before[:-1])
    assert len(set(before)) == len(before)
    files = sorted(p.name for p in (root / "definitions").rglob("*.json"))
    assert f"{drafts.VISION_NAME}.json" in files
    (report,) = (root / "reports").glob("*.json")
    entries = json.loads(report.read_text())["entries"]
    # Every kernel written once, none as a versioned conflict copy, none left pending.
    assert all(e["outcome"] == "new" for e in entries) and len(entries) == len(files)
    assert not checkpoint_path(root).exists()

    with ScriptedOpenAI(lambda body, n: Reply("unused")) as server:
        again = subprocess.run(command(root, server.url, "--resume"), capture_output=True, text=True, env=env())
    assert again.returncode == exit_codes.SUCCESS, again.stderr
    assert "no interrupted run of this command" in again.stderr
    assert server.requests == []  # every drafted kernel was recalled from the store, none redrafted
    assert sorted(p.name for p in (root / "definitions").rglob("*.json")) == files
