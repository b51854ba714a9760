"""Checkpoints of extraction runs, so that an interrupted run resumes where it stopped.

LangGraph's SQLite saver records the state after every step in
`<output>/.agent/checkpoints.sqlite`, under a thread id derived from the request: the
same command line finds its own run. `agent extract ... --resume` continues it from the
last completed step: the step a signal cut short (`agent/interruption.py`) is redone, so
only its LLM exchange is asked again. Without `--resume` a run starts over. Nothing reaches the dataset before the commit node, which
decides every definition against the store again, so resuming neither duplicates nor
loses definitions. A finished run's checkpoints are deleted, and the file with them
when no other run is left in it; a run that fails on bad input leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import typing
from pathlib import Path, PurePath
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import BaseModel

from agent.state import ExtractionState, ExtractRequest
from tools.errors import OutputError

CHECKPOINT_DIR = ".agent"
CHECKPOINT_FILE = "checkpoints.sqlite"


def checkpoint_path(output_root: str | Path) -> Path:
    return Path(output_root) / CHECKPOINT_DIR / CHECKPOINT_FILE


def thread_id(request: ExtractRequest) -> str:
    """`<model>-<hash of the request>`: the fields that decide what a run produces."""
    fields = request.model_dump(mode="json", exclude={"report_path", "allow_download"})
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    return f"{re.sub(r'[^a-z0-9.]+', '-', request.model_name.lower()).strip('-')}-{digest}"


def state_types(model: type[BaseModel] = ExtractionState) -> set[type]:
    """Every class a checkpoint of `model` may hold: the deserialisation allowlist."""
    found: set[type] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type):
            if issubclass(annotation, BaseModel) and annotation not in found:
                found.add(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            elif issubclass(annotation, PurePath):
                found.update({annotation, type(Path())})
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(model)
    return found


class RunCheckpoints:
    """The checkpoint file of one dataset root, opened for one run."""

    def __init__(self, output_root: str | Path) -> None:
        self.path = checkpoint_path(output_root)
        self._created: list[Path] = []
        self._connection: sqlite3.Connection | None = None
        self.saver: SqliteSaver | None = None

    def __enter__(self) -> RunCheckpoints:
        self._created = [p for p in (self.path.parent.parent, self.path.parent, self.path) if not p.exists()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"Cannot keep checkpoints in {self.path}: {exc}.", hint="Choose a writable --output directory.") from exc
        self.saver = SqliteSaver(self._connection, serde=JsonPlusSerializer(allowed_msgpack_modules=tuple(state_types())))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def config(self, request: ExtractRequest) -> dict[str, Any]:
        # The draft and repair loops end by construction (one kernel, one bounded attempt
        # per step); the recursion limit only guards against a bug that loops forever.
        return {"configurable": {"thread_id": thread_id(request)}, "recursion_limit": 100_000}

    def discard(self, request: ExtractRequest) -> None:
        """Forget the request's previous run, if any."""
        assert self.saver is not None
        self.saver.delete_thread(thread_id(request))

    def finish(self, request: ExtractRequest) -> None:
        """Forget the finished run; remove the file when no other run is left in it."""
        self.discard(request)
        assert self.saver is not None
        if next(iter(self.saver.list(None, limit=1)), None) is None:
            self.__exit__()
            self._remove_file()
            _remove_empty_dir(self.path.parent)

    def abandon(self) -> None:
        """The run failed on bad input: remove what opening the checkpoints created."""
        self.__exit__()
        if self.path in self._created:
            self._remove_file()
        for directory in (self.path.parent, self.path.parent.parent):
            if directory in self._created:
                _remove_empty_dir(directory)

    def _remove_file(self) -> None:
        for path in self.path.parent.glob(self.path.name + "*"):  # with -journal / -wal files
            path.unlink(missing_ok=True)


def _remove_empty_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()
