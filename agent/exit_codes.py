"""Exit statuses of the `agent` command, for scripts."""

SUCCESS = 0
"""Everything requested was produced (or already present)."""
INTERNAL_ERROR = 1
"""A bug: an unexpected exception (the traceback is printed)."""
BAD_INPUT = 2
"""Bad input or environment (unknown model, broken config, unwritable output...); nothing written."""
INCOMPLETE = 3
"""The run finished but some kernels are pending (need an LLM) or failed verification."""
NEEDS_REVIEW = 4
"""Everything was produced, but some definitions conflicted with existing ones and were
written under versioned names for review."""
INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT); rerun `agent extract` with --resume to continue."""
TERMINATED = 143
"""Stopped by SIGTERM, as cleanly as by Ctrl-C; rerun `agent extract` with --resume to continue."""
