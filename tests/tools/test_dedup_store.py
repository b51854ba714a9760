"""The definition store never loses or overwrites a definition."""

import json
import multiprocessing
import os

import pytest

from tools.dedup_store import DefinitionStore, signature, write_json_atomic
from tools.definition_builder.builder import BuildContext, build_definition
from tools.kernel_spec import KernelSpec


def definition(model="llama-3.1-8b", hidden=4096):
    return build_definition(KernelSpec(family="rmsnorm", axes={"hidden_size": hidden}), BuildContext(model_slug=model))


def read(path):
    return json.loads(open(path).read())


def test_new_then_existing_then_shared(tmp_path):
    store = DefinitionStore(tmp_path)
    first = store.commit(definition())
    assert first.action == "new" and first.name == "rmsnorm_h4096"
    path = tmp_path / "definitions" / "rmsnorm" / "rmsnorm_h4096.json"
    assert read(path)["name"] == "rmsnorm_h4096"
    before = path.read_bytes()

    again = DefinitionStore(tmp_path).commit(definition())
    assert again.action == "existing" and again.added_tags == []
    assert path.read_bytes() == before

    shared = DefinitionStore(tmp_path).commit(definition(model="qwen3-8b"))
    assert shared.action == "shared" and shared.added_tags == ["model:qwen3-8b"]
    tags = read(path)["tags"]
    assert tags[: len(read_tags(before))] == read_tags(before) or set(read_tags(before)) < set(tags)
    assert {"model:llama-3.1-8b", "model:qwen3-8b"} <= set(tags)


def read_tags(raw: bytes) -> list[str]:
    return json.loads(raw)["tags"]


def test_another_kernel_under_the_name_is_a_conflict_and_nothing_is_written(tmp_path):
    store = DefinitionStore(tmp_path)
    store.commit(definition())
    original = tmp_path / "definitions" / "rmsnorm" / "rmsnorm_h4096.json"
    before = original.read_bytes()
    other = definition(model="other")
    other["axes"]["hidden_size"]["value"] = 5120
    decision = DefinitionStore(tmp_path).commit(other)
    assert decision.action == "conflict"
    assert decision.differences == ["axis hidden_size = 4096 in the dataset, 5120 here"]
    assert original.read_bytes() == before
    assert sorted(p.name for p in original.parent.iterdir() if not p.name.startswith(".")) == ["rmsnorm_h4096.json"]
    # The proposal is kept for review outside the dataset's definitions.
    kept = read(decision.proposal_path)
    assert kept == other and ".agent/conflicts" in decision.proposal_path
    # The same conflicting definition again keeps the same proposal file, nothing more.
    assert DefinitionStore(tmp_path).commit(other).proposal_path == decision.proposal_path
    assert len(list((tmp_path / ".agent" / "conflicts").iterdir())) == 1


def test_a_dtype_or_layout_convention_is_the_same_kernel(tmp_path):
    store = DefinitionStore(tmp_path)
    store.commit(definition())
    original = tmp_path / "definitions" / "rmsnorm" / "rmsnorm_h4096.json"
    other = definition(model="other")
    other["inputs"]["weight"]["dtype"] = "float32"
    decision = DefinitionStore(tmp_path).commit(other)
    assert decision.action == "shared" and decision.added_tags == ["model:other"]
    assert decision.convention_differences == ["input weight dtype float32 (dataset's bfloat16)"]
    assert read(original)["inputs"]["weight"]["dtype"] == "bfloat16"


def test_signature_ignores_descriptions_tags_and_reference():
    a, b = definition(), definition(model="x")
    b["description"] = "changed"
    b["reference"] = b["reference"] + "\n# comment\n"
    assert signature(a) == signature(b)
    b["axes"]["hidden_size"]["value"] = 1
    assert signature(a) != signature(b)


def test_an_unreadable_file_is_never_overwritten(tmp_path):
    broken = tmp_path / "definitions" / "rmsnorm" / "rmsnorm_h4096.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{ not json")
    store = DefinitionStore(tmp_path)
    decision = store.commit(definition())
    assert decision.action == "conflict" and "cannot be read" in decision.differences[0]
    assert broken.read_text() == "{ not json"
    assert sorted(p.name for p in broken.parent.iterdir()) == ["rmsnorm_h4096.json"]
    assert store.problems and store.problems[0].path.endswith("rmsnorm_h4096.json")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "d.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})  # fails while serialising, mid-write
    assert read(path) == {"a": 1}
    assert sorted(os.listdir(tmp_path)) == ["d.json"]


def _commit_in_child(root, model):
    DefinitionStore(root).commit(definition(model=model))


def test_concurrent_commits_keep_every_tag(tmp_path):
    models = [f"m{i}" for i in range(6)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_commit_in_child, args=(tmp_path, m)) for m in models]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    files = list((tmp_path / "definitions" / "rmsnorm").glob("*.json"))
    assert [f.name for f in files] == ["rmsnorm_h4096.json"]
    assert {f"model:{m}" for m in models} <= set(read(files[0])["tags"])
