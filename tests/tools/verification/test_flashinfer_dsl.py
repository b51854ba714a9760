"""On a Hopper GPU with nvidia-cutlass-dsl: FlashInfer's CuTe DSL kernels for GDN (decode, MTP,
prefill) and KDA (decode, and prefill token by token) agree with the references, and a
reference whose gate has its sign flipped does not.

Head size 128, as the kernels require and the models use. The second device call of the
session runs these, after `.device-bundle-dsl/install.sh`; without the DSL they skip.
"""

import importlib.util

import pytest

from tests.tools.verification.definitions import build
from tools.verification.verify import verify_against_flashinfer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(importlib.util.find_spec("cutlass") is None, reason="needs nvidia-cutlass-dsl (.device-bundle-dsl)"),
]

GDN = {"num_q_heads": 4, "num_v_heads": 8, "head_size": 128}
KDA = {"num_q_heads": 2, "num_v_heads": 4, "head_dim": 128}
GDN_GATE = ("F.softplus(x)", "F.softplus(-x)")

CASES = {
    "gdn_decode": ("gdn_decode", GDN, GDN_GATE),
    "gdn_prefill": ("gdn_prefill", GDN, GDN_GATE),
    "gdn_mtp": (
        "gdn_mtp", GDN,
        ("softplus(a.to(torch.float32) + dt_bias.to(torch.float32))", "softplus(-(a.to(torch.float32) + dt_bias.to(torch.float32)))"),
    ),
    "kda_decode": ("kda_decode", KDA, ("softplus(g.float() + bias[None])", "softplus(-(g.float() + bias[None]))")),
    "kda_prefill": ("kda_prefill", KDA, ("softplus(g.float() + bias[None])", "softplus(-(g.float() + bias[None]))")),
}


@pytest.fixture(scope="module")
def verdicts():
    pairs = {}
    for key, (family, axes, (old, new)) in CASES.items():
        right = build(family, **axes)
        assert old in right["reference"], f"{key}: the reference no longer contains {old!r}"
        pairs[key] = (right, dict(right, name=f"{right['name']}_wrong", reference=right["reference"].replace(old, new)))
    reports = verify_against_flashinfer([d for pair in pairs.values() for d in pair])
    return {key: (reports[right["name"]], reports[wrong["name"]]) for key, (right, wrong) in pairs.items()}


@pytest.mark.parametrize("key", list(CASES))
def test_the_reference_agrees_with_the_dsl_kernel(verdicts, key):
    report, _ = verdicts[key]
    failures = [f"{c.label}: {c.error or [o.message for o in c.outputs if not o.passed]}" for c in report.cases if not c.passed]
    assert report.verdict == "verified", report.reason or report.error or failures


@pytest.mark.parametrize("key", list(CASES))
def test_a_flipped_gate_is_caught(verdicts, key):
    _, report = verdicts[key]
    assert report.verdict == "failed" and report.error is None, report.reason or report.error
    assert any(not o.passed for c in report.cases for o in c.outputs)
