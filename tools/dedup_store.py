"""The definition store: `<root>/definitions/{op_type}/{name}.json`, never overwritten.

A definition's identity is its name plus its signature: a hash over the fields that
define the kernel's interface (op type, axes, input and output shapes and dtypes,
constraints). Descriptions, tags and reference code are not part of it.

Committing a definition decides one of:

- `new`:      no definition has the name; the file is written.
- `existing`: the same name and signature, already tagged for this model: nothing to do
              (beyond metadata tags it may lack, such as a newer `sglang:` version).
- `shared`:   the same name and signature, used by another model: tags are added.
- `conflict`: the name exists with another signature: the existing file is left alone
              and the new one is written under the next free versioned name, flagged.

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
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import BaseModel, Field

from tools import naming
from tools.errors import OutputError

Action = Literal["new", "existing", "shared", "conflict"]


class StoreDecision(BaseModel):
    """What committing one definition does (or did) to the store."""

    action: Action
    name: str
    """The extracted definition's name."""
    stored_name: str
    """The name it is stored under (a versioned name on conflict)."""
    path: str
    added_tags: list[str] = Field(default_factory=list)
    conflicts_with: str | None = None
    """On conflict: the existing file whose signature differs."""
    differences: list[str] = Field(default_factory=list)
    """On conflict: how the signatures differ."""


class StoreProblem(BaseModel):
    """A file in the store that cannot be read as a definition (left untouched)."""

    path: str
    error: str


def signature(definition: dict[str, Any]) -> str:
    """Hash of the behaviour-defining interface of a definition."""
    return hashlib.sha256(json.dumps(_signature_fields(definition), sort_keys=True).encode()).hexdigest()[:16]


def _signature_fields(definition: dict[str, Any]) -> dict[str, Any]:
    def tensors(specs: dict[str, Any]) -> list[Any]:
        return [[name, spec.get("shape"), spec.get("dtype")] for name, spec in specs.items()]

    return {
        "op_type": definition.get("op_type"),
        "axes": [[name, spec.get("type"), spec.get("value")] for name, spec in definition.get("axes", {}).items()],
        "inputs": tensors(definition.get("inputs", {})),
        "outputs": tensors(definition.get("outputs", {})),
        "constraints": list(definition.get("constraints", [])),
    }


def signature_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two definitions' signatures."""
    a, b = _signature_fields(old), _signature_fields(new)
    diffs = []
    for field in ("op_type", "constraints"):
        if a[field] != b[field]:
            diffs.append(f"{field}: {a[field]!r} -> {b[field]!r}")
    for field in ("axes", "inputs", "outputs"):
        old_items = {item[0]: item[1:] for item in a[field]}
        new_items = {item[0]: item[1:] for item in b[field]}
        for name in sorted(set(old_items) | set(new_items)):
            if old_items.get(name) != new_items.get(name):
                diffs.append(f"{field}.{name}: {old_items.get(name)!r} -> {new_items.get(name)!r}")
    return diffs


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

    def path_for(self, definition: dict[str, Any], name: str | None = None) -> Path:
        return self.definitions_dir / definition["op_type"] / f"{name or definition['name']}.json"

    # ----------------------------------------------------------------- deciding

    def decide(self, definition: dict[str, Any]) -> StoreDecision:
        """What committing `definition` would do, without writing anything."""
        name = definition["name"]
        wanted = signature(definition)
        new_tags = set(definition.get("tags", []))
        version = 1
        first_conflict: tuple[Path, dict[str, Any]] | None = None
        while True:
            candidate = naming.versioned_name(name, version)
            entry = self.index().get(candidate)
            if entry is None:
                if first_conflict is None:
                    return StoreDecision(action="new", name=name, stored_name=candidate, path=str(self.path_for(definition, candidate)))
                path, existing = first_conflict
                return StoreDecision(
                    action="conflict",
                    name=name,
                    stored_name=candidate,
                    path=str(self.path_for(definition, candidate)),
                    conflicts_with=str(path),
                    differences=["existing file is unreadable"] if existing.get("unreadable") else signature_differences(existing, definition),
                )
            path, existing = entry
            if not existing.get("unreadable") and signature(existing) == wanted:
                missing = sorted(t for t in new_tags - set(existing.get("tags", [])) if _mergeable_tag(t))
                # "shared" when another model starts using it; "existing" when this model
                # already did (it may still gain metadata tags such as a newer sglang:).
                action: Action = "shared" if any(t.startswith(naming.MODEL_TAG_PREFIX) for t in missing) else "existing"
                return StoreDecision(action=action, name=name, stored_name=candidate, path=str(path), added_tags=missing)
            if first_conflict is None:
                first_conflict = entry
            version += 1

    # ----------------------------------------------------------------- writing

    def commit(self, definition: dict[str, Any], *, merge_tags: bool = True) -> StoreDecision:
        """Apply `decide(definition)` to the store; returns what was done."""
        with self.locked():
            self._index = None  # another process may have written since we last looked
            decision = self.decide(definition)
            if decision.action in ("new", "conflict"):
                stored = dict(definition, name=decision.stored_name)
                write_json_atomic(Path(decision.path), stored)
                self.index()[decision.stored_name] = (Path(decision.path), stored)
            elif decision.added_tags:
                if not merge_tags:
                    return decision.model_copy(update={"action": "existing", "added_tags": []})
                path = Path(decision.path)
                existing = json.loads(path.read_text(encoding="utf-8"))
                existing["tags"] = sorted(set(existing.get("tags", [])) | set(decision.added_tags))
                write_json_atomic(path, existing)
                self.index()[decision.stored_name] = (path, existing)
            return decision

    def set_status(self, name: str, status: str) -> None:
        """Replace the `status:` tag of a stored definition."""
        with self.locked():
            self._index = None
            entry = self.index().get(name)
            if entry is None or entry[1].get("unreadable"):
                raise OutputError(f"No readable definition named {name!r} in {self.definitions_dir}.")
            path, data = entry
            tags = [t for t in data.get("tags", []) if not t.startswith(naming.STATUS_TAG_PREFIX)]
            data["tags"] = sorted(tags + [naming.status_tag(status)])
            write_json_atomic(path, data)

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


def _mergeable_tag(tag: str) -> bool:
    """Tags a shared definition gains from another model; status is verification's business."""
    return not tag.startswith(naming.STATUS_TAG_PREFIX) and not tag.startswith("fi_api:")


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
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"Cannot write {path}: {exc.strerror}.", hint="Choose a writable --output directory.") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
