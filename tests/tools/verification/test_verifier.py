"""The verification door: static check first, then the sandbox; failures described for repair."""

from tests.tools.verification.definitions import toy
from tools.verification.reference_check import (
    OutputMismatch,
    ReferenceCheck,
    WrongValue,
    check_references,
)
from tools.verification.sandbox import SandboxLimits
from tools.verification.verifier import (
    describe_failure,
    select_verifier,
    verify_definitions,
)

LIMITS = SandboxLimits(timeout_s=20, memory_bytes=4 * 1024**3)


def test_code_failing_the_static_check_never_reaches_the_sandbox(tmp_path):
    marker = tmp_path / "ran"
    # Would create the marker if it ran (the sandbox forbids writes, but it must not even start).
    escaping = toy("escaping", f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nreturn x", imports="import os\nimport torch\n")
    results = verify_definitions([escaping, toy("fine", "return x * 2")], "cpu", limits=LIMITS)
    assert results["escaping"].error.startswith("static check: line 1: imports os")
    assert results["escaping"].cases == []
    assert results["fine"].passed
    assert not marker.exists()


def test_auto_uses_the_cpu_sandbox_here():
    assert select_verifier("auto") is check_references is select_verifier("cpu")


def test_the_failure_report_quotes_the_exception_and_each_case():
    results = verify_definitions([toy("raises", "return x.view(3, -1)")], "cpu", limits=LIMITS)
    text = describe_failure(results["raises"])
    assert "verdict: failed" in text
    assert "case 'one row': failed" in text and "case 'several rows': failed" in text
    assert "RuntimeError" in text and "view(3, -1)" in text  # the traceback's failing line


def test_the_failure_report_lists_numerical_mismatches_with_sample_positions():
    check = ReferenceCheck(
        name="k",
        passed=False,
        error="output 'y' differs",
        mismatches=[
            OutputMismatch(
                output="y", case="decode", shape=[2, 8], expected_shape=[2, 8], max_abs_error=0.5, max_rel_error=0.25, wrong=3, total=16,
                sample=[WrongValue(index=[0, 1], expected=2.0, actual=2.5)],
            )
        ],
    )
    text = describe_failure(check)
    assert "output 'y' (case 'decode') differs" in text
    assert "max abs error 0.5, max rel error 0.25" in text
    assert "3 of 16 elements" in text and "at [0, 1]: expected 2, got 2.5" in text
