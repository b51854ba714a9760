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
"""The run finished, but some planned definitions conflict with the dataset's definitions
of the same names (other kernels): they were not written; the report says what differs."""
UNVERIFIABLE = 5
"""`agent verify`: nothing failed, but some definitions could not be verified here (no
binding, no FlashInfer kernel for this GPU, or the kernel could not be built); the table
and the log give each reason. A failure (3) takes precedence."""
INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT); rerun `agent extract` or `agent batch` with --resume to continue."""
TERMINATED = 143
"""Stopped by SIGTERM, as cleanly as by Ctrl-C; rerun `agent extract` or `agent batch` with --resume to continue."""
PUBLISH_FAILED = 6
"""`agent batch`: a remote (the Hub, GitHub, a git remote) failed a request. What was
published before is recorded; rerun with --resume to continue."""
