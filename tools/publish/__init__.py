"""Publishing verified definitions as contribution bundles and pull requests.

A *bundle* (`bundle.py`) is the set of dataset files one pull request adds or changes,
laid out exactly as flashinfer-bench's validator reads a dataset. A *submission*
(`publisher.py`) is a bundle with its title, body and branch, handed to a backend:

    publisher.py   the interface every backend implements, and `publish()`, the one
                   find -> open | update | leave-alone decision they all share
    local.py       branches and commits in a local git repository (review, tests)
    hf.py          Hugging Face dataset pull requests through huggingface_hub
    github.py      GitHub pull requests through the REST API, after a git push to a fork
    coverage.py    the GitHub half's change: rows of docs/model_coverage.mdx
    git.py         git plumbing that never touches a work tree, tokens kept out of argv
    tokens.py      tokens from the environment only, and their redaction
    pr_text.py     titles, bodies and the marker that identifies a bundle's PR
    state.py       the batch state file (atomic), so a killed run resumes
    reference_test.py, source_bundler.py   the generated `tests/references/test_{name}.py`

Errors::

    ExtractionError (tools/errors.py)     bad input or environment (exit 2)
    ├── MissingTokenError                 a backend was asked for and its token is not set
    └── PublishError                      a remote refused or failed a request
        └── TokenRefusedError             the remote answered 401/403 to the token
"""
