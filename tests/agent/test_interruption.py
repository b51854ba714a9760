"""Ctrl-C (SIGINT) and SIGTERM stop every command at once, wherever it is, and clean up.

First the mechanism (`agent/interruption.py`) with real signals sent to this process;
then each command as a real subprocess, signalled in the middle of what takes long: an
LLM request the loopback endpoint holds for 60 s, a sandboxed reference that never
returns, a FlashInfer comparison on a GPU. Each must exit within 5 s with 130 (SIGINT) or
143 (SIGTERM), leave no process behind, and write nothing half-done. Every wait is for an
event: a request arriving, a process appearing, a progress line.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from agent import exit_codes
from agent.interruption import Interrupted, held, stop_on_signals
from tests.agent import scripted_drafts as drafts
from tests.agent.openai_server import Reply, ScriptedOpenAI
from tests.agent.processes import REPO, STOP_WITHIN_S, Agent, agent_env, alive, command_line, descendants
from tests.tools.verification.definitions import build, toy
from tools.dedup_store import DefinitionStore
from tools.verification.reference_check import check_references
from tools.verification.sandbox import SandboxLimits

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")

SIGNALS = [(signal.SIGINT, exit_codes.INTERRUPTED), (signal.SIGTERM, exit_codes.TERMINATED)]
WORKER = "tools.verification.worker"
HANGS = "while True:\n    pass"


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_signal_raises_interrupted_in_the_block_and_the_previous_handlers_come_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for signum in (signal.SIGINT, signal.SIGTERM):
        with pytest.raises(Interrupted) as stopped:
            with stop_on_signals():
                signal.raise_signal(signum)
        assert stopped.value.signum == signum and isinstance(stopped.value, KeyboardInterrupt)
    assert {s: signal.getsignal(s) for s in before} == before
    assert signal.set_wakeup_fd(-1) == -1  # the relay's wakeup fd is gone, and its thread
    assert not [t for t in threading.enumerate() if t.name == "stop-signal-relay"]


def test_a_signal_inside_held_waits_for_the_block_and_a_second_one_is_ignored():
    done = []
    with pytest.raises(Interrupted) as stopped:
        with stop_on_signals():
            with held():
                signal.raise_signal(signal.SIGTERM)
                done.append("first")
                signal.raise_signal(signal.SIGINT)  # already stopping: ignored
                done.append("second")
            done.append("after the block")
    assert done == ["first", "second"]
    assert stopped.value.signum == signal.SIGTERM


def test_a_signal_while_the_sandbox_waits_ends_its_worker():
    """In this process: SIGTERM comes from another thread just as the main thread goes
    back to waiting for a reference that never returns. The signal lands just before the
    select, or the sending thread takes it: either way only the relay wakes the main thread."""
    workers: list[int] = []
    first_done = threading.Event()

    def on_event(event: dict) -> None:
        if event.get("id") == "quick":  # the worker now runs the one that hangs
            workers.extend(pid for pid in descendants(os.getpid()) if WORKER in command_line(pid))
            first_done.set()

    def signal_when_hanging() -> None:
        first_done.wait()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signal_when_hanging, daemon=True).start()
    with pytest.raises(Interrupted):
        with stop_on_signals():
            check_references([toy("quick", "return x + 1"), toy("hangs", HANGS)], limits=SandboxLimits(timeout_s=3600), on_event=on_event)
    assert len(workers) == 1
    assert not alive(workers[0])


@pytest.mark.parametrize("signum, status", SIGNALS)
def test_verify_stops_during_a_sandboxed_reference_check(tmp_path, signum, status):
    root = tmp_path / "ds"
    DefinitionStore(root).commit(toy("hangs", HANGS))
    before = files(root)
    agent = Agent("verify", "--cpu", "hangs", "--output", str(root), env=agent_env(CUDA_VISIBLE_DEVICES=""))
    worker = agent.wait_for_descendant(WORKER)
    stopped = agent.stop(signum)
    assert stopped.status == status, stopped.stderr
    assert stopped.seconds < STOP_WITHIN_S, f"took {stopped.seconds:.1f} s to stop"
    assert worker in stopped.started and stopped.left == set()
    assert files(root) == before  # no status, no log of a run that did not finish, no temporary file


def test_extract_stops_during_the_check_of_a_drafted_reference(tmp_path, sglang_source):
    from agent.checkpoint import checkpoint_path

    root = tmp_path / "ds"
    hanging = drafts.vision_attention(reference="import torch\n\n\ndef run(q, k, v):\n    while True:\n        pass\n")

    def script(body: dict, n: int) -> Reply:
        return Reply(drafts.as_reply(hanging)) if drafts.drafted_class(body) == "VisionAttention" else Reply(drafts.default_reply(body))

    with ScriptedOpenAI(script) as server:
        agent = Agent("extract", "--model-name", "tiny-gemma3", "--config", str(REPO / "tests" / "fixtures" / "tiny-gemma3.json"),
                      "--output", str(root), "--execution-modes", "decode", "--page-sizes", "1", "--verify-timeout", "3600",
                      "--llm-base-url", server.url, "--llm-model", "scripted", "--llm-retries", "0")
        worker = agent.wait_for_descendant(WORKER)
        stopped = agent.stop(signal.SIGINT)
    assert stopped.status == exit_codes.INTERRUPTED, stopped.stderr
    assert stopped.seconds < STOP_WITHIN_S, f"took {stopped.seconds:.1f} s to stop"
    assert worker in stopped.started and stopped.left == set()
    assert "[verify] checking" in stopped.stderr and "--resume" in stopped.stderr
    assert checkpoint_path(root).is_file()
    assert not (root / "definitions").exists()


def test_eval_stops_during_an_llm_request_and_leaves_no_temporary_dataset(tmp_path, sglang_source):
    temp, out = tmp_path / "tmp", tmp_path / "eval"
    temp.mkdir()
    with ScriptedOpenAI(lambda body, n: Reply("held", delay_s=60)) as server:
        agent = Agent("eval", "--models", "kimi-linear", "--out", str(out), "--llm-model", "scripted", "--llm-base-url", server.url,
                      "--llm-retries", "0", env=agent_env(TMPDIR=str(temp)))
        server.wait_for_request(lambda body: True, still_waiting=lambda: agent.running)
        stopped = agent.stop(signal.SIGINT)
    assert stopped.status == exit_codes.INTERRUPTED, stopped.stderr
    assert stopped.seconds < STOP_WITHIN_S, f"took {stopped.seconds:.1f} s to stop"
    assert stopped.left == set()
    # The throwaway dataset is gone (torch's cutlass cache may stay: not ours).
    assert [p.name for p in temp.iterdir() if p.name.startswith(("agent-eval-", "fi-trace-sandbox-"))] == []
    assert not out.exists()  # nothing recorded for a run that did not finish


@pytest.mark.gpu
def test_verify_stops_during_a_flashinfer_comparison(tmp_path):
    """On a GPU: the signal lands while FlashInfer's binding is built (JIT: compilers in the
    worker's process group) or while the reference, which never returns, is compared."""
    root = tmp_path / "ds"
    definition = build("rmsnorm", hidden_size=128)
    signature = "def run(hidden_states, weight):\n"
    assert signature in definition["reference"]
    definition["reference"] = definition["reference"].replace(signature, signature + "    while True:\n        pass\n")
    DefinitionStore(root).commit(definition)
    before = files(root)
    agent = Agent("verify", definition["name"], "--output", str(root))
    agent.wait_for_line("[flashinfer]")  # the worker is building the binding
    worker = agent.wait_for_descendant(WORKER)
    stopped = agent.stop(signal.SIGINT)
    assert stopped.status == exit_codes.INTERRUPTED, stopped.stderr
    assert stopped.seconds < STOP_WITHIN_S, f"took {stopped.seconds:.1f} s to stop"
    assert worker in stopped.started and stopped.left == set()
    assert files(root) == before  # no status, no baseline solution, no log
