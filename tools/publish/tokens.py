"""Tokens come from the environment only, and never leave it in clear.

`HF_TOKEN` for the Hub; `GH_TOKEN`, then `GITHUB_TOKEN`, for GitHub (gh's order). They
are never accepted as arguments (argv is visible to every user of the machine), and
`redact` scrubs them from any text that may reach a log, a report or an exception.
"""

from __future__ import annotations

import os
from typing import Mapping

from tools.errors import ExtractionError

TOKEN_VARIABLES = {"hf": ("HF_TOKEN",), "github": ("GH_TOKEN", "GITHUB_TOKEN")}


class MissingTokenError(ExtractionError):
    slug = "token-missing"


def token_for(backend: str, environ: Mapping[str, str] | None = None) -> str:
    """The backend's token; raises with the variables to set when none is."""
    environ = os.environ if environ is None else environ
    names = TOKEN_VARIABLES[backend]
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    raise MissingTokenError(
        f"--publish {backend} needs a token and none is set.",
        hint=f"Export {' or '.join(names)} (tokens are read from the environment only, never from the command line).",
    )


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
