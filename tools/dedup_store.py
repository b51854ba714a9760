"""The definition store: `<root>/definitions/{op_type}/{name}.json`, never overwritten.

The target dataset is the reference: when it already holds a definition with the
planned name, that definition stands for the kernel, and the extraction only adds the
model's tags to it. Committing a definition decides one of:

- `new`:      no definition has the name; the file is written.
- `existing`: the dataset's definition is the same kernel and already tagged for this
              model (under its slug or an alias): nothing to do.
- `shared`:   the same kernel, used by another model so far: the model's `model:` tag,
              and the `tp:`/`ep:` tags its op type carries, are added to the file; no
              other byte of it changes (`definition_file.append_tags`).
- `conflict`: the name exists but is another kernel (other constant values, other tensor
              sizes, another op type): nothing is written into the dataset; the proposed
              definition is kept under `<root>/.agent/conflicts/` and the differences are
              reported.

Two definitions are the same kernel when their signatures agree, or differ only in
conventions: dtypes, the order of axes, a transposed layout of the same sizes, inputs
one of them spells out (a `kv_last_page_len`, a scale) that the other leaves implicit.
Those differences are reported too, and the dataset's file is kept as it is.

Writes are atomic (a temporary file renamed into place) and serialised by a lock file,
so a crash or a concurrent run never leaves a half-written or clobbered definition.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, Field

from tools import naming
from tools.dataset_conventions import parallel_tag_prefixes, signature_differences, signature_facts
from tools.definition_file import append_tags, replace_tag
from tools.errors import OutputError

Action = Literal["new", "existing", "shared", "conflict"]
CONFLICTS_DIR = Path(".agent") / "conflicts"


class StoreDecision(BaseModel):
    """What committing one definition does (or did) to the store."""

    action: Action
    name: str
    path: str
    """The dataset file: the one written, tagged or left alone."""
    added_tags: list[str] = Field(default_factory=list)
    differences: list[str] = Field(default_factory=list)
    """On conflict: what makes the dataset's definition another kernel."""
    convention_differences: list[str] = Field(default_factory=list)
    """How the dataset's definition's signature differs from the extraction's where they
    are the same kernel (the dataset's file is kept as it is)."""
    proposal_path: str | None = None
    """On conflict: where the extraction's definition was kept for review."""


class StoreProblem(BaseModel):
    """A file in the store that cannot be read as a definition (left untouched)."""

    path: str
    error: str


def signature(definition: dict[str, Any]) -> str:
    """Hash of the behaviour-defining interface of a definition."""
    return hashlib.sha256(json.dumps(_signature_fields(definition), sort_keys=True).encode()).hexdigest()[:16]


def _signature_fields(definition: dict[str, Any]) -> dict[str, Any]:
    def tensors(specs: dict[str, Any]) -> list[Any]:
        # Order matters: the benchmark calls run(*inputs) and unpacks outputs in order.
        return [[name, spec.get("shape"), spec.get("dtype")] for name, spec in specs.items()]

    return {
        "op_type": definition.get("op_type"),
        "axes": {name: [spec.get("type"), spec.get("value")] for name, spec in definition.get("axes", {}).items()},
        "inputs": tensors(definition.get("inputs", {})),
        "outputs": tensors(definition.get("outputs", {})),
        "constraints": sorted(definition.get("constraints") or []),
    }


def convention_differences(dataset: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """How `ours` differs from the dataset's same-named definition, one line each (order of
    axes, inputs and outputs included); empty exactly when the signatures are equal."""
    return signature_differences(signature_facts(ours), signature_facts(dataset), other="dataset's")


def kernel_differences(dataset: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """What makes two same-named definitions different kernels, rather than one kernel
    written to two conventions: another op type, a constant axis with another value, a
    tensor of other sizes (of a transposed layout, the sizes still agree)."""
    diffs = []
    if dataset.get("op_type") != ours.get("op_type"):
        diffs.append(f"op_type {dataset.get('op_type')!r} in the dataset, {ours.get('op_type')!r} here")
    a_consts, b_consts = _constants(dataset), _constants(ours)
    other_values = sorted(axis for axis in set(a_consts) & set(b_consts) if a_consts[axis] != b_consts[axis])
    diffs += [f"axis {axis} = {a_consts[axis]} in the dataset, {b_consts[axis]} here" for axis in other_values]
    for field in ("inputs", "outputs"):
        theirs, mine = dataset.get(field, {}), ours.get(field, {})
        for name in [n for n in mine if n in theirs]:
            if set(other_values) & set(mine[name].get("shape") or []):
                continue  # already said: the tensor is sized by an axis reported above
            a_dims, b_dims = _sizes(dataset, theirs[name].get("shape")), _sizes(ours, mine[name].get("shape"))
            if not _same_sizes(a_dims, b_dims):
                diffs.append(f"{field[:-1]} {name} of shape {_show(a_dims)} in the dataset, {_show(b_dims)} here")
    return diffs


def _constants(definition: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get("value") for name, spec in definition.get("axes", {}).items() if spec.get("type") == "const"}


def _sizes(definition: dict[str, Any], shape: list[str] | None) -> list[int | str] | None:
    if shape is None:
        return None
    consts = _constants(definition)
    return [consts.get(axis, axis) for axis in shape]


def _same_sizes(a: list[int | str] | None, b: list[int | str] | None) -> bool:
    if a is None or b is None:
        return a is b
    if len(a) != len(b):
        return False
    # The same layout, where a variable extent may stand for any constant one...
    if all(x == y or isinstance(x, str) or isinstance(y, str) for x, y in zip(a, b)):
        return True
    # ...or the same sizes in another order (a weight stored transposed).
    return Counter(x for x in a if isinstance(x, int)) == Counter(y for y in b if isinstance(y, int)) and sum(
        isinstance(x, str) for x in a
    ) == sum(isinstance(y, str) for y in b)


def _show(dims: list[int | str] | None) -> str:
    return "scalar" if dims is None else "[" + ", ".join(map(str, dims)) + "]"


def tags_to_add(dataset: dict[str, Any], ours: dict[str, Any], *, model_aliases: Iterable[str] = ()) -> list[str]:
    """The tags a dataset definition gains from a model that runs it: the model's tag
    (unless it is tagged already, under the model's slug or an alias) and the `tp:`/`ep:`
    tags its op type carries. Nothing else: status, fi_api and provenance stay as they are."""
    present = set(dataset.get("tags", []))
    aliases = {naming.model_tag(a) for a in model_aliases}
    parallel = parallel_tag_prefixes(dataset.get("op_type", ""), dataset.get("name"))
    added = []
    for tag in ours.get("tags", []):
        if tag in present or tag in added:
            continue
        if tag.startswith(naming.MODEL_TAG_PREFIX) and not (present & aliases):
            added.append(tag)
        elif parallel and tag.startswith(parallel):
            added.append(tag)
    return added


class DefinitionStore:
    """Definitions under `root/definitions`, indexed by name."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.definitions_dir = self.root / "definitions"
        self._index: dict[str, tuple[Path, dict[str, Any]]] | None = None
        self.problems: list[StoreProblem] = []

    # ----------------------------------------------------------------- reading

    def index(self) -> dict[str, tuple[Path, dict[str, Any]]]:
        if self._index is None:
            self._index = {}
            self.problems = []
            if self.definitions_dir.is_dir():
                for path in sorted(self.definitions_dir.glob("*/*.json")):
                    try:
                        data = json.loads(path.read_text(encoding="utf-8"))
                        if not isinstance(data, dict) or "name" not in data:
                            raise ValueError("not a definition object")
                        missing = [k for k in ("op_type", "axes", "inputs", "outputs") if not isinstance(data.get(k), (dict, str))]
                        if missing:
                            raise ValueError(f"a definition without {', '.join(missing)}")
                    except (OSError, ValueError) as exc:
                        self.problems.append(StoreProblem(path=str(path), error=str(exc)))
                        # Reserve the name so nothing is ever written over the unreadable file.
                        self._index[path.stem] = (path, {"name": path.stem, "op_type": path.parent.name, "unreadable": True})
                        continue
                    self._index[data["name"]] = (path, data)
        return self._index

    def get(self, name: str) -> dict[str, Any] | None:
        entry = self.index().get(name)
        return entry[1] if entry else None

    def tagged_for(self, slug: str, aliases: Iterable[str] = ()) -> list[str]:
        """Names of the definitions tagged for a model, under its slug or an alias."""
        tags = {naming.model_tag(n) for n in (slug, *aliases)}
        return sorted(name for name, (_, data) in self.index().items() if tags & set(data.get("tags", [])))

    def path_for(self, definition: dict[str, Any]) -> Path:
        return self.definitions_dir / definition["op_type"] / f"{definition['name']}.json"

    # ----------------------------------------------------------------- deciding

    def decide(self, definition: dict[str, Any], *, model_aliases: Iterable[str] = ()) -> StoreDecision:
        """What committing `definition` would do, without writing anything."""
        name = definition["name"]
        entry = self.index().get(name)
        if entry is None:
            return StoreDecision(action="new", name=name, path=str(self.path_for(definition)))
        path, existing = entry
        if existing.get("unreadable"):
            problem = next((p.error for p in self.problems if p.path == str(path)), "unreadable")
            return self._conflict(definition, path, [f"the dataset's file cannot be read as a definition ({problem})"])
        differences = kernel_differences(existing, definition)
        if differences:
            return self._conflict(definition, path, differences, convention_differences(existing, definition))
        added = tags_to_add(existing, definition, model_aliases=model_aliases)
        action: Action = "shared" if any(t.startswith(naming.MODEL_TAG_PREFIX) for t in added) else "existing"
        return StoreDecision(
            action=action, name=name, path=str(path), added_tags=added, convention_differences=convention_differences(existing, definition)
        )

    def _conflict(self, definition: dict[str, Any], path: Path, differences: list[str], conventions: list[str] = ()) -> StoreDecision:
        proposal = self.root / CONFLICTS_DIR / f"{definition['name']}.{signature(definition)}.json"
        return StoreDecision(
            action="conflict",
            name=definition["name"],
            path=str(path),
            differences=differences,
            convention_differences=list(conventions),
            proposal_path=str(proposal),
        )

    # ----------------------------------------------------------------- writing

    def commit(self, definition: dict[str, Any], *, merge_tags: bool = True, model_aliases: Iterable[str] = ()) -> StoreDecision:
        """Apply `decide(definition)` to the store; returns what was done."""
        with self.locked():
            self._index = None  # another process may have written since we last looked
            decision = self.decide(definition, model_aliases=model_aliases)
            if decision.action == "new":
                write_json_atomic(Path(decision.path), definition)
                self.index()[decision.name] = (Path(decision.path), definition)
            elif decision.action == "conflict":
                assert decision.proposal_path is not None
                write_json_atomic(Path(decision.proposal_path), definition)
            elif decision.added_tags:
                if not merge_tags:
                    return decision.model_copy(update={"action": "existing", "added_tags": []})
                path = Path(decision.path)
                text = append_tags(path.read_text(encoding="utf-8"), decision.added_tags)
                write_text_atomic(path, text)
                self.index()[decision.name] = (path, json.loads(text))
            return decision

    def set_status(self, name: str, status: str) -> None:
        """Replace the `status:` tag of a stored definition, in place in its file."""
        with self.locked():
            self._index = None
            entry = self.index().get(name)
            if entry is None or entry[1].get("unreadable"):
                raise OutputError(f"No readable definition named {name!r} in {self.definitions_dir}.")
            path = entry[0]
            text = path.read_text(encoding="utf-8")
            edited = replace_tag(text, naming.STATUS_TAG_PREFIX, naming.status_tag(status))
            if edited != text:
                write_text_atomic(path, edited)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        try:
            self.definitions_dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.definitions_dir / ".lock", "a+")
        except OSError as exc:
            raise OutputError(
                f"Cannot write to {self.definitions_dir}: {exc.strerror}.",
                hint="Choose a writable --output directory.",
            ) from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def check_writable(root: Path) -> None:
    """Fail early, before any work, if `root` cannot hold a dataset."""
    root = Path(root)
    probe_dir = root
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir() or not os.access(probe_dir, os.W_OK | os.X_OK):
        raise OutputError(
            f"Output directory {root} is not writable (checked {probe_dir}).",
            hint="Pass --output a directory you can write to.",
        )
    definitions = root / "definitions"
    if definitions.exists() and not os.access(definitions, os.W_OK | os.X_OK):
        raise OutputError(f"{definitions} is not writable.", hint="Pass --output a directory you can write to.")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the whole new one, never a part."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"Cannot write {path}: {exc.strerror}.", hint="Choose a writable --output directory.") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
