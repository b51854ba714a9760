"""Fetch a model's config.json from the Hugging Face hub, when a network is available.

Uses the hub's plain file endpoint (`{HF_ENDPOINT}/{repo}/resolve/{revision}/config.json`),
honouring the standard `HF_ENDPOINT` and `HF_TOKEN` variables, and keeps a copy in the
user cache so a later offline run finds it. Only the config is fetched, never weights.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tools.errors import ConfigError, UnknownModelError

DEFAULT_ENDPOINT = "https://huggingface.co"


def looks_like_repo_id(name: str) -> bool:
    parts = name.strip().split("/")
    return len(parts) == 2 and all(parts) and " " not in name


def fetch_config(repo_id: str, cache_dir: Path, *, revision: str = "main", timeout_s: float = 15.0) -> tuple[dict[str, Any], str]:
    """(config, where it came from) for `repo_id`, from the cache or the hub."""
    cached = cache_dir / "hub" / repo_id / revision / "config.json"
    if cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8")), f"hub-cache:{cached}"
    endpoint = os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")
    url = f"{endpoint}/{repo_id}/resolve/{revision}/config.json"
    request = urllib.request.Request(url, headers={"User-Agent": "flashinfer-trace-agent"})
    token = os.environ.get("HF_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        hint = "Gated models need HF_TOKEN." if exc.code in (401, 403) else "Check the repository id, or pass --config PATH."
        raise UnknownModelError(f"The hub has no config for {repo_id!r} ({url}: HTTP {exc.code}).", hint=hint) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnknownModelError(
            f"{repo_id!r} is not in the catalog and the hub could not be reached ({reason}).",
            hint="Pass --config PATH to the model's config.json, or run where huggingface.co (or HF_ENDPOINT) is reachable.",
        ) from exc
    try:
        config = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"The hub's config.json for {repo_id!r} is not valid JSON: {exc.msg}.") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"The hub's config.json for {repo_id!r} is not a JSON object.")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2), encoding="utf-8")
    os.replace(tmp, cached)
    return config, f"hub:{url}"
