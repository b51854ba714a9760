"""Reference code that reaches outside tensor math is refused before it runs."""

import pytest

from tools.verification.static_check import check_reference_source

GOOD = """from __future__ import annotations
import math
import numpy as np
import torch
from torch import nn


def run(x, weight):
    return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6) * weight.float()).to(x.dtype)
"""


def test_plain_torch_math_passes():
    assert check_reference_source(GOOD).passed


@pytest.mark.parametrize(
    "source, problem",
    [
        ("import os\ndef run(x):\n    return x", "line 1: imports os"),
        ("from subprocess import run as r\ndef run(x):\n    return x", "line 1: imports subprocess"),
        ("from . import helpers\ndef run(x):\n    return x", "line 1: imports ."),
        ("def run(x):\n    open('leak.txt', 'w').write('x')\n    return x", "line 2: uses `open`"),
        ("def run(x):\n    return eval('x')", "line 2: uses `eval`"),
        ("def run(x):\n    return __import__('os')", "line 2: uses `__import__`"),
        ("import torch\ndef run(x):\n    torch.save(x, 'x.pt')\n    return x", "line 3: uses `.save`"),
        ("import torch\ndef run(x):\n    return torch.os.system('true')", "line 3: uses `.os`"),
        ("def run(x):\n    return x.__class__.__subclasses__()", "line 2: accesses dunder attribute `__class__`"),
        ("import numpy\ndef run(x):\n    numpy.load('secret.npy')\n    return x", "line 3: uses `.load`"),
    ],
)
def test_escapes_are_refused_with_their_line(source, problem):
    result = check_reference_source(source)
    assert not result.passed
    assert any(p.startswith(problem) for p in result.problems), result.problems


def test_missing_run_and_syntax_errors_are_reported():
    assert check_reference_source("import torch\ndef forward(x):\n    return x").problems == [
        "defines no top-level function `run` (the entry point the benchmark calls)"
    ]
    assert check_reference_source("def run(x:\n    return x").problems[0].startswith("line 1: does not parse")


def test_problems_come_in_line_order():
    result = check_reference_source("def run(x):\n    open('a')\n    eval('b')\nimport os\n")
    lines = [int(p.split(":")[0].split()[1]) for p in result.problems]
    assert lines == sorted(lines) == [2, 3, 4]
