"""Sub-commands of `agent`: each module adds its parser and its `run(args) -> exit status`."""
