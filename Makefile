# Two entry points for a fresh machine (see README):
#   make demo   create .venv, install, extract Llama 3.1 8B into build/demo
#   make test   create .venv, install, run the test suite
# A CPU build of torch is pinned by default: everything but GPU verification runs on the
# CPU. For a CUDA build, install it into .venv first or pass TORCH_SPEC (see README).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test install bench clean

$(BIN)/agent: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	@touch $(BIN)/agent

install: $(BIN)/agent

demo: install
	$(BIN)/agent extract --model-name llama --output build/demo

# One pytest worker per core (pytest-xdist); a test file's tests stay on one worker, so its
# module fixtures (an extraction, a fake server) are built once. TEST_WORKERS=0: one process.
TEST_WORKERS ?= auto

test: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: install
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf build .pytest_cache
