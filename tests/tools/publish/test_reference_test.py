"""Generated reference tests: standalone in a dataset, skipping cleanly on the CPU, and
producing the verifier's inputs and the reference's outputs (checked here on the CPU;
the comparison with FlashInfer runs on a GPU: `test_generated_tests_pass_on_the_gpu`)."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.tools.verification.definitions import SMALL_GQA, build, rope
from tools.publish.reference_test import generate_reference_test
from tools.verification.execution import var_axis_values

DEFINITIONS = {
    "rmsnorm": lambda: build("rmsnorm", hidden_size=256),
    "fused_add_rmsnorm": lambda: build("fused_add_rmsnorm", hidden_size=256),
    "gemm": lambda: build("gemm", N=64, K=128),
    "gqa_paged_decode_ps16": lambda: build("gqa_paged_decode", **SMALL_GQA, page_size=16),
    "gqa_paged_prefill": lambda: build("gqa_paged_prefill", **SMALL_GQA, page_size=1),
    "gqa_ragged_prefill": lambda: build("gqa_ragged_prefill", **SMALL_GQA),
    "rope": lambda: rope(),
    "top_k_sampling": lambda: build("top_k_sampling_from_probs", vocab_size=512),
}
BLOCKER = """
import sys
class _NoProject:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tools', 'agent', 'evals'):
            raise ImportError(f'the generated test imported the project: {name}')
        return None
sys.meta_path.insert(0, _NoProject())
"""


def write_dataset(root: Path, definitions: list[dict]) -> list[Path]:
    tests = []
    for definition in definitions:
        path = root / "definitions" / definition["op_type"] / f"{definition['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(definition, indent=2))
        test = root / "tests" / "references" / f"test_{definition['name']}.py"
        test.parent.mkdir(parents=True, exist_ok=True)
        test.write_text(generate_reference_test(definition))
        tests.append(test)
    return tests


def load(test: Path):
    spec = importlib.util.spec_from_file_location(test.stem, test)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    return root, write_dataset(root, [make() for make in DEFINITIONS.values()])


def test_the_test_asserts_and_returns_nothing(dataset):
    _, tests = dataset
    for test in tests:
        tree = ast.parse(test.read_text())
        function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_"))
        assert any(isinstance(n, ast.Assert) for n in ast.walk(function))
        assert not any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(function))
        top_imports = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
        top_imports |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        assert not top_imports & {"tools", "agent", "evals"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the generated tests run instead of skipping")
def test_generated_tests_skip_cleanly_without_a_gpu_and_import_nothing_of_the_project(dataset):
    root, tests = dataset
    runner = BLOCKER + "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-rs', 'tests/references']))"
    result = subprocess.run([sys.executable, "-c", runner], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "passed" not in result.stdout.splitlines()[-1] and "skipped" in result.stdout.splitlines()[-1]
    assert "needs a CUDA GPU" in result.stdout


@pytest.mark.parametrize("family", sorted(DEFINITIONS))
def test_inputs_and_reference_run_on_the_cpu_with_the_definitions_shapes(dataset, family):
    root, _ = dataset
    definition = DEFINITIONS[family]()
    module = load(root / "tests" / "references" / f"test_{definition['name']}.py")
    loaded = module.load_definition()
    assert loaded == definition, "the test reads the definition from its own dataset (parents[2])"
    case = min(module.CASES, key=lambda c: c.get("batch_size", 1) * max(c.get("kv_lens") or c.get("q_lens") or [1]))
    inputs = module.generate_inputs(loaded, case)
    assert len(inputs) == len(definition["inputs"])
    sizes = var_axis_values(definition, inputs)
    consts = {a: s["value"] for a, s in definition["axes"].items() if s["type"] == "const"}
    for (name, spec), value in zip(definition["inputs"].items(), inputs):
        if spec["shape"] is None:
            assert not isinstance(value, torch.Tensor), name
            continue
        assert list(value.shape) == [consts.get(a, sizes.get(a)) for a in spec["shape"]], name
        assert str(value.dtype) == f"torch.{spec['dtype']}", name
    outputs = module.as_outputs(module.compile_reference(loaded)(*inputs), list(definition["outputs"]))
    for (name, spec), value in zip(definition["outputs"].items(), outputs):
        assert list(value.shape) == [consts.get(a, sizes.get(a)) for a in spec["shape"]], name
        assert str(value.dtype) == f"torch.{spec['dtype']}", name
    assert callable(module.flashinfer_run) and "import flashinfer" in module.BASELINE_SOURCE


def test_the_tolerance_and_cases_are_the_verifiers():
    from tools.verification.families import family_for
    from tools.verification.inputs import default_cases

    definition = build("rmsnorm", hidden_size=256)
    source = generate_reference_test(definition)
    tree = ast.parse(source)
    constants = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name) and t.id in ("TOLERANCE", "CASES")}
    assert constants["TOLERANCE"] == family_for(definition).tolerance_for(definition).model_dump()
    assert [c["label"] for c in constants["CASES"]] == [c.label for c in default_cases(definition, "verify")]


def test_no_binding_no_test():
    definition = build("rmsnorm", hidden_size=256)
    definition["tags"] = [t for t in definition["tags"] if not t.startswith("fi_api:")]
    definition["op_type"] = "vision_pooling"  # an op type no FlashInfer kernel computes
    with pytest.raises(ValueError, match="no FlashInfer binding"):
        generate_reference_test(definition)


def test_an_ambiguous_binding_no_test():
    # Without fi_api an RMSNorm signature fits both x * w and Gemma's x * (1 + w): no guess.
    definition = build("rmsnorm", hidden_size=256)
    definition["tags"] = [t for t in definition["tags"] if not t.startswith("fi_api:")]
    with pytest.raises(ValueError, match="several bindings apply"):
        generate_reference_test(definition)


@pytest.mark.gpu
def test_generated_tests_pass_on_the_gpu(dataset):
    root, _ = dataset
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/references"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0 and "skipped" not in result.stdout.splitlines()[-1], result.stdout[-5000:]
