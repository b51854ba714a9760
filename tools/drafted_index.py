"""Which stored definition an LLM drafted for which kernel: the agent's memory across runs.

A template-built definition has a name known before it is built, so the store can say
whether it exists. An LLM-drafted one is named by the LLM, so without a record a second
run would draft (and pay for) every such kernel again, and might name it differently.
`<output>/.agent/drafted.json` maps a kernel's key (model and planned kernel) to the
definition committed for it. It is a hint: a name that is no longer in the store is
ignored, and the kernel is drafted again.
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.dedup_store import DefinitionStore, write_json_atomic

INDEX_FILE = Path(".agent") / "drafted.json"


def drafted_key(model_slug: str, task_id: str) -> str:
    return f"{model_slug}|{task_id}"


class DraftedIndex:
    """`drafted.json` of one dataset root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / INDEX_FILE

    def load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # absent or damaged: every LLM kernel is simply drafted again
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}

    def recall(self, key: str, store: DefinitionStore) -> dict | None:
        """The stored definition drafted for `key`, if it is still in the store."""
        name = self.load().get(key)
        definition = store.get(name) if name else None
        return None if definition is None or definition.get("unreadable") else definition

    def record(self, entries: dict[str, str], store: DefinitionStore) -> None:
        """Add `key -> stored name` entries (under the store's lock: runs may share a root)."""
        if not entries:
            return
        with store.locked():
            write_json_atomic(self.path, dict(sorted({**self.load(), **entries}.items())))
