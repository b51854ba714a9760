"""Extraction accuracy across models, tracked over time.

    truth.py     the ground truth (data in ground_truth/) as validated pydantic models
    runner.py    one extraction per model through the real agent graph
    scoring.py   pure metrics: name precision/recall, signature diffs, checks, LLM usage
    history.py   one JSON line per eval run, with the git commit it measured
    report.py    the terminal table, the Markdown report and the history chart

`agent eval` (agent/commands/eval.py) wires them together.
"""
