"""Errors the tools raise for bad input, each with a stable slug, a message and a hint.

The CLI is the only place that turns these into exit codes and terminal output; tools
raise and never print. The hierarchy::

    ExtractionError                  bad input or an unusable environment (exit 2)
    ├── UnknownModelError            a model name that matches nothing
    ├── ConfigError                  a config.json that is missing, unreadable or incomplete
    ├── SourceNotFoundError          no SGLang source could be found or downloaded
    ├── SourceParseError             an SGLang file that libcst cannot parse
    ├── ProfileError                 a TP/EP/page-size profile the model cannot run with
    ├── OutputError                  an output directory that cannot be written
    ├── DefinitionError              a definition that does not validate as a Definition
    ├── UnknownDefinitionError       a definition name the dataset does not hold
    └── EmptyDatasetError            a dataset (or a selection of it) with no definitions
"""

from __future__ import annotations


class ExtractionError(Exception):
    """Base class: a problem the user can fix, described for them."""

    slug = "extraction-error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UnknownModelError(ExtractionError):
    slug = "unknown-model"

    def __init__(self, message: str, *, hint: str | None = None, candidates: list[str] | None = None):
        super().__init__(message, hint=hint)
        self.candidates = candidates or []


class ConfigError(ExtractionError):
    slug = "bad-config"


class SourceNotFoundError(ExtractionError):
    slug = "sglang-source-not-found"


class SourceParseError(ExtractionError):
    slug = "sglang-source-unparsable"


class ProfileError(ExtractionError):
    slug = "bad-profile"


class OutputError(ExtractionError):
    slug = "output-not-writable"


class DefinitionError(ExtractionError):
    slug = "invalid-definition"


class UnknownDefinitionError(ExtractionError):
    slug = "unknown-definition"


class EmptyDatasetError(ExtractionError):
    slug = "empty-dataset"
