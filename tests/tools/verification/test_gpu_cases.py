"""The GPU tests' definitions, checked on the CPU before a GPU session spends time on them:
each binds (to the kernel the test means), and its planted mistake is in its reference.

A reference rewritten since (the builder's references change with the dataset's
conventions) would otherwise be found out only on the GPU machine.
"""

import importlib

import pytest

from tests.tools.verification.definitions import build
from tools.verification.bindings.lookup import resolve


def tables():
    bindings = importlib.import_module("tests.tools.verification.test_flashinfer_bindings").FAMILIES
    sm90 = importlib.import_module("tests.tools.verification.test_flashinfer_sm90").CASES
    for key, (family, axes, mistake) in bindings.items():
        yield pytest.param(family, {}, axes, mistake, id=f"bindings-{key}")
    for key, (family, options, axes, mistake) in sm90.items():
        yield pytest.param(family, options, axes, mistake, id=f"sm90-{key}")
    dsl = importlib.import_module("tests.tools.verification.test_flashinfer_dsl").CASES
    for key, (family, axes, mistake) in dsl.items():
        yield pytest.param(family, {}, axes, mistake, id=f"dsl-{key}")


@pytest.mark.parametrize("family, options, axes, mistake", list(tables()))
def test_each_gpu_case_binds_and_carries_its_planted_mistake(family, options, axes, mistake):
    definition = build(family, options, **axes)
    resolution = resolve(definition)
    assert resolution.binding is not None, resolution.reason
    old, new = mistake
    assert old in definition["reference"] and old != new
