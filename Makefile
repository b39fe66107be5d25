# Everyday targets. The first one you run creates .venv with the pinned environment.
#   make lab    open JupyterLab on the course (127.0.0.1, token auth)
#   make test   run every test: ruff, lib, widgets, notebook hygiene, every chapter under nbval,
#               and JupyterLab in headless Chromium when /usr/bin/chromium is present
#   make html   every chapter, executed, as self-contained offline HTML in build/html/
#   make bench  time lib against PyTorch and the course itself; writes bench/RESULTS.md
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra pip flags, e.g. PIP_FLAGS="--index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple"
PIP_FLAGS ?=
PORT   ?= 8888
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help env lab test test-fast test-browser html bench lint format sync clean distclean lock

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
		{ echo "Python >= 3.10 is needed (found $$($(PYTHON) --version)). Set PYTHON=..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_FLAGS) -r requirements.lock -e .
	@# The course runs offline: JupyterLab should not ask to fetch news or check for updates.
	mkdir -p $(VENV)/share/jupyter/lab/settings
	echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

env: $(STAMP)  ## create .venv with the pinned environment (done by every target that needs it)

lab: env  ## open JupyterLab on chapters/, with chapter 00 open
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ROOT_FLAG) \
		--ServerApp.root_dir=chapters --LabApp.default_url=/lab/tree/00_welcome.ipynb

test: env lint  ## run every test (lint, unit, widgets, hygiene, notebooks via nbval, browser when Chromium is present)
	$(BIN)/python -m pytest tests --nbval-lax chapters

test-fast: env  ## unit and widget tests only (no notebooks, no browser)
	$(BIN)/python -m pytest tests -m "not browser" -q

test-browser: env  ## only the browser suite (JupyterLab in headless Chromium; screenshots in build/)
	$(BIN)/python -m pytest tests/browser -m browser -s

html: env  ## every chapter as offline HTML in build/html/ (SOLUTIONS=1: with worked solutions)
	$(BIN)/python -m transformer_course.export chapters build/html $(if $(filter 1,$(SOLUTIONS)),--solutions)

# Subset: make bench BENCH=attention (or training, memory, chapters, widgets; comma-separated).
# THREADS=1 sets torch's thread count (default: torch's own); steadier on a busy machine.
BENCH ?=
THREADS ?=
bench: env  ## benchmarks (lib vs PyTorch, chapters, widgets) → bench/RESULTS.md; BENCH=name for one
	$(BIN)/python -m bench $(if $(BENCH),--only $(BENCH),) $(if $(THREADS),--threads $(THREADS),)

lint: env  ## ruff check over lib, tests, chapters and bench; ruff format --check over lib, tests and bench
	$(BIN)/ruff check lib tests chapters bench
	$(BIN)/ruff format --check lib tests bench

format: env  ## ruff format + fix lib and tests (never touches chapters)
	$(BIN)/ruff check --fix lib tests
	$(BIN)/ruff format lib tests

sync: env  ## pair every chapter .py with its .ipynb (jupytext); backs up any file it overwrites
	$(BIN)/python .ci/sync_notebooks.py chapters

lock: env  ## rewrite requirements.lock from the current .venv
	{ head -n 3 requirements.lock; $(BIN)/pip freeze --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+cpu$$/\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:  ## remove caches and build output (keeps .venv and your notebooks)
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean  ## also remove .venv
	rm -rf $(VENV)
