"""`agent batch`: extract, verify and publish many models, resumably.

    models.py        which models: --models, --models-file, --catalog
    extraction.py    each model through the extraction graph, in a process pool, each in
                     a fresh copy of the dataset's definitions (its own workspace)
    verification.py  the new definitions of all models, merged and verified once
    planning.py      the gate and the bundles: what is ready, a draft, or blocked, and why
    publishing.py    bundles to the backends (local, hf, github), recorded after each step
    summary.py       the table and JSON a run ends with
    runner.py        the sequence, the state file and --resume
"""
