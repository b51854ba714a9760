"""On a GPU: MLA paged decode and causal prefill (DeepSeek-V3 at TP=8: 16 heads, ckv 512,
kpe 64) agree with `BatchMLAPagedAttentionWrapper`, MLA ragged prefill (QK 192, VO 128)
with the ragged prefill wrapper, and a wrong softmax scale is caught.

Separate from the other families' GPU tests: MLA kernels are JIT builds of their own.
"""

import pytest

from tests.tools.verification.definitions import build, mla
from tools.verification.verify import verify_against_flashinfer

pytestmark = pytest.mark.gpu

PAGED = {"decode_ps1": ("decode", 1), "decode_ps64": ("decode", 64), "prefill_ps1": ("prefill", 1), "prefill_ps64": ("prefill", 64)}


@pytest.fixture(scope="module")
def verdicts():
    right = {key: mla(stage, page_size=page) for key, (stage, page) in PAGED.items()}
    right["ragged"] = build("mla_ragged_prefill", num_qo_heads=16, qk_dim=192, vo_dim=128)
    # The name keeps `prefill_causal`: the binding tells causal prefill from decode by it.
    wrong = dict(right["prefill_ps64"], name=f"{right['prefill_ps64']['name']}_wrong_scale")
    wrong["reference"] = wrong["reference"].replace(") * sm_scale", ") * sm_scale * 2.0")
    assert wrong["reference"] != right["prefill_ps64"]["reference"]
    reports = verify_against_flashinfer([*right.values(), wrong])
    return {key: reports[d["name"]] for key, d in right.items()} | {"wrong": reports[wrong["name"]]}


@pytest.mark.parametrize("key", [*PAGED, "ragged"])
def test_the_mla_reference_agrees_with_flashinfer(verdicts, key):
    report = verdicts[key]
    failures = [f"{c.label}: {c.error or [o.message for o in c.outputs if not o.passed]}" for c in report.cases if not c.passed]
    assert report.passed, report.error or failures


def test_a_wrong_mla_softmax_scale_is_caught(verdicts):
    report = verdicts["wrong"]
    assert not report.passed and report.error is None
    assert any(o.problem == "tolerance" for c in report.cases for o in c.outputs)
