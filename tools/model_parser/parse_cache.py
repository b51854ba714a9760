"""Parsed SGLang files on disk, by content hash, so a new process need not parse again.

libcst parsing and its position metadata cost most of a cold extraction's first seconds
(0.3-0.8 s per large SGLang file), and every process of `agent batch --jobs N` (and every
`agent extract`) would pay them again. A module's tree and byte spans are pickled under
`<agent cache>/parsed/<sha256 of the source, libcst and Python versions>.pickle`, written
atomically; an unreadable or stale entry is ignored and rewritten. The key is the file's
content, so an edited or upgraded SGLang never reads another file's tree.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from tools.source_locator import default_cache_dir

FORMAT = "1"
_RECURSION_LIMIT = 50_000  # libcst trees nest deeper than pickle's default recursion allows


def default_parse_cache_dir() -> Path:
    return default_cache_dir() / "parsed"


class ParseCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory else default_parse_cache_dir()
        self._salt = f"{FORMAT}|{metadata.version('libcst')}|{sys.version_info[:3]}".encode()

    def _path(self, source: str) -> Path:
        return self.directory / f"{hashlib.sha256(self._salt + source.encode('utf-8', 'surrogatepass')).hexdigest()}.pickle"

    def load(self, source: str) -> tuple[Any, dict] | None:
        """(tree, spans) for this exact source text, or None."""
        path = self._path(source)
        try:
            with open(path, "rb") as handle, _deep_recursion():
                tree, spans = pickle.load(handle)
        except FileNotFoundError:
            return None
        except Exception:  # a damaged or foreign entry: parse again, and overwrite it
            return None
        return tree, spans

    def store(self, source: str, tree: Any, spans: dict) -> None:
        path = self._path(source)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".parse-", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle, _deep_recursion():
                pickle.dump((tree, spans), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except (OSError, RecursionError, pickle.PicklingError):
            # A cache that cannot be written is a slower run, never a failed one.
            try:
                os.unlink(tmp)
            except (OSError, UnboundLocalError):
                pass


@contextmanager
def _deep_recursion() -> Iterator[None]:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, _RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)
