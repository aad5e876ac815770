# The commands a newcomer needs (each sets itself up on a fresh machine):
#   make reproduce [PROFILE=quick|paper|smoke]   run every numbered notebook headless with papermill; the
#                                                notebooks draw their figures and tables from the committed
#                                                results (smoke trains: it has none committed)
#   make train [PROFILE=...]                     the same with TRAIN=True: (re)generate the results first,
#                                                resuming finished or killed runs (hours at quick)
#   make test                                    unit tests + every notebook under nbval (smoke profile)
#   make lab                                     JupyterLab on the notebooks (make kernel: register the venv
#                                                as kernel "borel_lib" for a JupyterLab of your own)
#   make check-reproducible                      run the smoke reproduce twice from scratch and compare
#                                                every figure byte for byte (exit 1 if any differs)
#   make manifest                                after regenerating results: refresh the checksums of every
#                                                committed result file (data/results/MANIFEST.sha256); commit it
#   make book                                    the README, docs/ and the notebooks (committed outputs, nothing
#                                                executed) as a static site, offline: build/book/index.html
# NOTEBOOKS=notebooks/03_collect_data.ipynb restricts either to some notebooks.

PROFILE ?= $(or $(BOREL_PROFILE),quick)
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
EXECUTED := build/executed/$(PROFILE)
PYTEST_ARGS ?=
# TRAIN=True (or False) is passed to every notebook as papermill's -p TRAIN; empty = the notebooks' default
TRAIN ?=
TRAIN_ARG := $(if $(strip $(TRAIN)),-p TRAIN $(strip $(TRAIN)),)

.PHONY: reproduce train test setup lint benchmark clean-build check-figures check-reproducible lab kernel headline book manifest

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned to the CPU wheel on disk (an unpinned torch pulls GBs of CUDA)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	# the notebooks' kernelspec is "python3": register this venv's interpreter under that name
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (borel_lib)" >/dev/null
	touch $@

setup: $(VENV)/.installed

# JupyterLab on the notebooks, from the project's venv (its kernel "python3" is this venv)
lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab notebooks/

# register the venv as the kernel "borel_lib" for a JupyterLab installed elsewhere (your user's Jupyter)
kernel: $(VENV)/.installed
	$(PY) -m ipykernel install --user --name borel_lib --display-name "Python 3 (borel_lib)"

reproduce: $(VENV)/.installed
	@mkdir -p $(EXECUTED)
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb (PROFILE=$(PROFILE)$(if $(strip $(TRAIN)), TRAIN=$(strip $(TRAIN)),))"; \
	  BOREL_PROFILE=$(PROFILE) MPLBACKEND=Agg $(VENV)/bin/papermill --cwd notebooks --kernel python3 \
	    -p PROFILE $(PROFILE) $(TRAIN_ARG) "$$nb" "$(EXECUTED)/$$(basename $$nb)" || exit 1; \
	done
	@echo "executed notebooks: $(EXECUTED)/   figures: $$( [ $(PROFILE) = smoke ] && echo build/smoke/figures || echo figures)"
	@$(PY) scripts/headline.py --not-produced --profile $(PROFILE)

train: $(VENV)/.installed
	$(MAKE) reproduce PROFILE=$(PROFILE) TRAIN=True NOTEBOOKS="$(NOTEBOOKS)"

# the committed tables first (their checksums: `make manifest` after regenerating them), then the figures drawn from them
check-figures: $(VENV)/.installed
	$(PY) scripts/results_manifest.py --check
	$(PY) scripts/check_figures.py --profile $(PROFILE)

# checksums of every committed result file (data/results/MANIFEST.sha256): run after regenerating results, commit it
manifest: $(VENV)/.installed
	$(PY) scripts/results_manifest.py --write

check-reproducible: $(VENV)/.installed
	$(PY) scripts/check_reproducible.py

# rewrite the README's headline table (one row per paper artefact, verdicts computed) from the committed tables
headline: $(VENV)/.installed
	$(PY) scripts/headline.py --profile $(PROFILE)

# Sphinx + MyST-NB (the `book` extra, part of dev) from the repository root with book/conf.py; rebuilt from
# scratch so a removed page leaves nothing behind; downloads nothing (tests/test_book.py builds it offline)
book: $(VENV)/.installed
	rm -rf build/book
	$(VENV)/bin/sphinx-build -b html -c book -q . build/book
	@echo "book: build/book/index.html"

test: $(VENV)/.installed
	BOREL_PROFILE=smoke MPLBACKEND=Agg $(PY) -m pytest tests notebooks --nbval-lax \
	  --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check borel_lib tests scripts

benchmark: $(VENV)/.installed
	$(PY) scripts/benchmark_envs.py
	$(PY) scripts/benchmark_agents.py

clean-build:
	rm -rf build
