# Everyday targets. The first one you run creates .venv with the pinned environment.
#   make lab    open JupyterLab on your own copies of the chapters (workspace/; 127.0.0.1, token auth)
#   make reset 03   a fresh copy of chapter 03 (or all; also CHAPTER=03); yours is kept in workspace/.backups/
#   make test   run every test: ruff, lib, widgets, notebook hygiene, every chapter under nbval,
#               and JupyterLab in headless Chromium when /usr/bin/chromium is present (that
#               suite in front; the rest beside it as two lower-priority processes, .ci/test_in_two.py)
#   make html   every chapter, executed, as self-contained offline HTML in build/html/
#   make bench  time lib against PyTorch and the course itself; writes bench/RESULTS.md
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Every path below is the course folder's. Run from another folder (make -f ../Makefile from
# workspace/, say), a recipe would act on that folder: clean would delete its build/ and
# checkpoints, distclean its .venv. make -C <course folder> is the way to run it from elsewhere.
# Asked of the shell, not of $(realpath): make splits words at spaces, so a course folder such as
# "/Users/Ann Lee/course" never equalled itself and every target refused to run.
# Nothing is read before this line, so $(MAKEFILE_LIST) is this file's path, spaces and all.
ROOT := $(shell cd -P -- "$$(dirname -- '$(subst ','\'',$(MAKEFILE_LIST))')" 2>/dev/null && pwd -P)
ifneq ($(shell pwd -P),$(ROOT))
$(error Run make in the course folder$(if $(ROOT), $(ROOT)) (or make -C <course folder> ...), not in $(CURDIR))
endif

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra pip flags, e.g. PIP_FLAGS="--index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple"
PIP_FLAGS ?=
PORT   ?= 8888
CHAPTER ?=
# The oldest Python the course runs on: requires-python in pyproject.toml (">=X.Y").
FLOOR  := $(shell sed -nE 's/^requires-python = ">=([0-9.]+)".*/\1/p' pyproject.toml)
CHECK_FLOOR := import sys; sys.exit(sys.version_info < tuple(map(int, "$(FLOOR)".split("."))))

TARGETS := help env keep-env lab reset status test test-fast test-browser test-install html bench memory lint format sync clean distclean lock
.PHONY: $(TARGETS)

# `make reset 03` (or 3, all, 03_queries_keys_values) reads as `make reset CHAPTER=03`: the words
# after reset name the chapter, and are no targets of their own. They win over a CHAPTER in the
# environment; with CHAPTER= on the command line too, or a word that is a target, make stops here.
ifeq (reset,$(firstword $(MAKECMDGOALS)))
RESET_WORDS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
ifneq ($(RESET_WORDS),)
# Refused here, before make runs anything: with -j (or -k) a target named after reset
# (make reset clean, make reset lab) would run beside, or after, a reset that refused it.
ifneq ($(words $(RESET_WORDS)),1)
$(error chapter must be 'all', a number such as 03 or a name such as 03_queries_keys_values, got '$(RESET_WORDS)': make reset takes one)
endif
ifneq ($(filter $(TARGETS),$(RESET_WORDS)),)
$(error chapter must be 'all', a number such as 03 or a name such as 03_queries_keys_values, got '$(RESET_WORDS)': run make $(RESET_WORDS) on its own)
endif
ifeq ($(origin CHAPTER),command line)
$(error Name the chapter once: make reset $(RESET_WORDS) or make reset CHAPTER=$(CHAPTER), not both)
endif
CHAPTER := $(RESET_WORDS)
$(eval $(CHAPTER):;@:)
endif
endif

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# .venv counts as built only once $(STAMP) exists. The Python is checked before anything is
# created; a .venv without the stamp (an install that failed or was stopped) is removed and
# built again, and a first install that fails removes its .venv, so fixing the cause and
# running make again works.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c '$(CHECK_FLOOR)' 2>/dev/null || { \
		echo "The course needs Python >= $(FLOOR); PYTHON=$(PYTHON) is: $$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo not found)." >&2; \
		echo "Install Python $(FLOOR) or newer and name it, e.g. make lab PYTHON=python3.12 (README: Python versions)." >&2; \
		exit 1; }
	@if [ -e $(VENV) ] && [ ! -f $(STAMP) ]; then \
		echo "Removing $(VENV): its install never finished (or make did not create it)."; rm -rf $(VENV); fi
	@if [ ! -e $(VENV) ]; then $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Could not create $(VENV). On Debian/Ubuntu: sudo apt install python3-venv (or python3.X-venv)." >&2; \
		exit 1; }; fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_FLAGS) -r requirements.lock -e . || { \
		if [ ! -f $(STAMP) ]; then rm -rf $(VENV); echo "Install failed: removed the unfinished $(VENV)." >&2; \
		else echo "Install failed: $(VENV) is as before; once the cause above is fixed (the network, say), run make env again." >&2; fi; exit 1; }
	@# The course runs offline: JupyterLab should not ask to fetch news or check for updates.
	$(BIN)/python -m transformer_course.workspace settings
	touch $(STAMP)

env: $(STAMP)  ## create .venv with the pinned environment (done by every target that needs it)

# lab, reset and status open the learner's work: once .venv has been installed, an update that
# fails (offline after a `git pull` that changed requirements.lock or pyproject.toml) leaves
# them on the environment they had, where it stopped them. env, test and the rest still stop.
ifeq ($(wildcard $(STAMP)),)
WORK_ENV := env
else
WORK_ENV := keep-env
endif
keep-env:
	@$(MAKE) --no-print-directory -q $(STAMP) 2>/dev/null || $(MAKE) --no-print-directory $(STAMP) || \
		echo "Could not update $(VENV) to the course's new versions (above): going on with the one you had. Run make env again when you are online." >&2

# The folder the learner typed make in, when make -C took it elsewhere (JupyterLab's terminal
# opens in workspace/: make -C .. status), from their shell's PWD: the commands the workspace
# prints for them to type must work there. -C turns on make's w flag; without it nothing is
# passed (a program that ran make in another folder may have left PWD as its own).
lab reset status: export TC_CALLER_DIR := $(if $(findstring w,$(firstword -$(MAKEFLAGS))),$(PWD))

lab: $(WORK_ENV)  ## open JupyterLab on your copies of the chapters (workspace/), chapter 00 open
	$(BIN)/python -m transformer_course.workspace lab --port $(PORT)

reset: $(WORK_ENV)  ## a fresh copy of a chapter in workspace/: make reset 03 (or all); yours is backed up
	@[ -n "$(CHAPTER)" ] || { echo "Say which: make reset 03 (or make reset all; also make reset CHAPTER=03)" >&2; exit 2; }
	$(BIN)/python -m transformer_course.workspace reset "$(CHAPTER)"

status: $(WORK_ENV)  ## which of your copies you changed, and which chapters the course has updated
	$(BIN)/python -m transformer_course.workspace status || [ $$? -eq 141 ]  # 141: piped to head, which stopped reading

test: env lint  ## run every test (lint, unit, widgets, hygiene, notebooks via nbval, browser when Chromium is present)
	$(BIN)/python .ci/test_in_two.py --with-browser --durations=20

test-install: env  ## install the course with uv and from a wheel, resolve the lock on PyPI for each Python (network)
	TC_INSTALL_TESTS=1 $(BIN)/python -m pytest tests -m install

test-fast: env  ## unit and widget tests only (no notebooks, no browser)
	$(BIN)/python -m pytest tests -m "not browser and not install" -q

test-browser: env  ## only the browser suite (JupyterLab in headless Chromium; screenshots in build/)
	$(BIN)/python -m pytest tests/browser -m browser -s

html: env  ## every chapter as offline HTML in build/html/ (SOLUTIONS=1: with worked solutions)
	$(BIN)/python -m transformer_course.export chapters build/html $(if $(filter 1,$(SOLUTIONS)),--solutions)

# Subset: make bench BENCH=attention (or training, gpt, kv_cache, memory, chapters, widgets; comma-separated).
# THREADS=1 sets torch's thread count (default: torch's own); steadier on a busy machine.
BENCH ?=
THREADS ?=
bench: env  ## benchmarks (lib vs PyTorch, chapters, widgets) → bench/RESULTS.md; BENCH=name for one
	$(BIN)/python -m bench $(if $(BENCH),--only $(BENCH),) $(if $(THREADS),--threads $(THREADS),)

memory: env  ## each chapter's kernel memory after Run All, to size a JupyterHub (1-3 minutes)
	$(BIN)/python -m transformer_course.kernel_memory chapters

lint: env  ## ruff check over lib, tests, chapters and bench; ruff format --check over lib, tests and bench
	$(BIN)/ruff check lib tests chapters bench
	$(BIN)/ruff format --check lib tests bench

format: env  ## ruff format + fix lib and tests (never touches chapters)
	$(BIN)/ruff check --fix lib tests
	$(BIN)/ruff format lib tests

sync: env  ## pair every chapter .py with its .ipynb (jupytext); backs up any file it overwrites
	$(BIN)/python .ci/sync_notebooks.py chapters

lock: env  ## rewrite requirements.lock from the current .venv
	{ grep '^#' requirements.lock; $(BIN)/pip freeze --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+cpu$$/\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:  ## remove caches and build output (keeps .venv and your workspace/)
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -not -path './workspace/*' -prune -exec rm -rf {} +
	@# A checkpoint is someone's last "Save and Checkpoint" (of a chapter edited in chapters/, say):
	@# removed only when its notebook beside it holds the same; any other is kept, and named.
	@find . \( -path './$(VENV)' -o -path './workspace' \) -prune -o -type d -name .ipynb_checkpoints -print0 | \
	while IFS= read -r -d '' dir; do \
		for saved in "$$dir"/*; do \
			[ -f "$$saved" ] && [ ! -L "$$saved" ] || continue; \
			name=$${saved##*/}; notebook="$${dir%/*}/$${name%-checkpoint.*}.$${name##*-checkpoint.}"; \
			if cmp -s "$$saved" "$$notebook"; then rm -f "$$saved"; \
			else echo "kept $$saved: your last saved checkpoint, not the same as $$notebook (delete it yourself when you no longer need it)"; fi; \
		done; \
		rmdir "$$dir" 2>/dev/null || true; \
	done

distclean: clean  ## also remove .venv (keeps your workspace/)
	rm -rf $(VENV)
