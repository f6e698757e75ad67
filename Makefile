# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each bootstraps .venv (idempotently; the second run only re-checks), installs the CPU build of
# torch where no torch is present, fetches the embedded models and MovieLens-100k, then runs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A pinned torch: a bare `torch` would pull a multi-GB CUDA build on a CPU-only machine.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.llmrec-installed
PYTEST_ARGS ?=

.PHONY: setup fetch test lint format demo bench wheel clean

setup: $(STAMP) fetch

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev,bnb]"
	@touch $(STAMP)

fetch: $(STAMP)
	@$(BIN)/llmrec models fetch
	@$(BIN)/llmrec data fetch ml-100k

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup lint
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/python -m pytest $(PYTEST_ARGS)

demo: setup
	$(BIN)/llmrec run --config eval/demo.yaml

bench: setup
	@for b in eval/bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The wheel (prompts and recipes inside); tests/test_wheel.py installs one into a fresh venv.
wheel: $(STAMP)
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist
