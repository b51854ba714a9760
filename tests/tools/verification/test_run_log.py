"""The verification log: one report file per run, one appended summary line per run."""

import json

from tools.verification.environment import Environment
from tools.verification.run_log import DefinitionResult, VerificationRun, statuses_written, write_run

ENV = Environment(device="cpu", torch="2.13.0", python="3.11", platform="linux")


def run(started: str, passed: bool) -> VerificationRun:
    result = DefinitionResult(name="rmsnorm_h64", op_type="rmsnorm", passed=passed, summary="ok" if passed else "output 'output' differs")
    return VerificationRun(started_at=started, finished_at=started, mode="cpu", dataset="ds", environment=ENV, results=[result])


def test_each_run_gets_a_report_and_a_log_line(tmp_path):
    first = write_run(tmp_path, run("2026-11-23T10:00:00Z", True))
    second = write_run(tmp_path, run("2026-11-23T10:00:00Z", False))  # same second: a distinct file
    assert first.name == "20261123T100000Z.json" and second.name == "20261123T100000Z-2.json"
    assert VerificationRun.model_validate_json(second.read_text()).results[0].passed is False
    lines = [json.loads(line) for line in (tmp_path / "verification" / "log.jsonl").read_text().splitlines()]
    assert [line["report"] for line in lines] == [first.name, second.name]
    assert lines[1]["results"] == [
        {"name": "rmsnorm_h64", "passed": False, "verdict": None, "status": None, "api_used": None, "summary": "output 'output' differs"}
    ]
    assert lines[0]["environment"]["torch"] == "2.13.0"


def test_the_log_says_which_status_agent_verify_last_wrote(tmp_path):
    for status in ("verified", None, "unverified"):
        result = DefinitionResult(name="rmsnorm_h64", op_type="rmsnorm", passed=status == "verified", summary="s", verdict="failed", status=status)
        write_run(tmp_path, VerificationRun(started_at="2026-11-29T10:00:00Z", finished_at="2026-11-29T10:00:01Z", mode="flashinfer", dataset="ds", environment=ENV, results=[result]))
    with open(tmp_path / "verification" / "log.jsonl", "a") as log:
        log.write('{"results": [{"name": "gemm_n1_k1", "status": "verif')  # a line cut short by a crash
    assert statuses_written(tmp_path) == {"rmsnorm_h64": "unverified"}
    assert statuses_written(tmp_path / "nothing") == {}
