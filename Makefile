# One entry point for users and CI. `make report` renders the default data cut; `make test` runs the tests.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CUT ?= $(shell test -x $(BIN)/python && $(BIN)/python -c "from analysis_lib.trial.config import default_cut; print(default_cut())" 2>/dev/null || echo final)
DEBIAN_PACKAGES := texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended tex-gyre latexmk \
	lmodern poppler-utils chromium fonts-dejavu-core libreoffice-writer-nogui fonts-liberation
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-deps report test test-fast lint notebooks benchmark clean

system-deps:  ## Debian packages: TeX for the PDF; poppler, Chromium and LibreOffice (RTF test) for checking the outputs
	@if ! command -v latexmk >/dev/null || ! command -v pdftotext >/dev/null || ! command -v chromium >/dev/null \
	    || ! command -v soffice >/dev/null || ! fc-list | grep -q LiberationSerif \
	    || ! kpsewhich lastpage.sty >/dev/null || ! kpsewhich tgtermes.sty >/dev/null; then \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES); \
	fi

$(BIN)/python:
	$(PY) -m venv $(VENV)

setup: system-deps $(BIN)/python  ## Python environment from the lock file (idempotent)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .

report: setup  ## validate -> derive -> execute -> render the default cut (CUT=... to choose)
	$(BIN)/csr report --cut $(CUT)

test: setup  ## the whole test suite, slow end-to-end tests included
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

test-fast: setup  ## everything but the slow end-to-end tests, on both cores (a notebook's cells stay on one worker)
	$(BIN)/python -m pytest -q -m "not slow" -n 2 --dist loadfile

lint: setup  ## ruff (lint and format check) and mypy, configured in pyproject.toml
	$(BIN)/python -m ruff check analysis_lib tests benchmarks conftest.py
	$(BIN)/python -m ruff format --check analysis_lib tests benchmarks conftest.py
	$(BIN)/python -m mypy

notebooks: setup  ## re-execute chapters/*.ipynb in place on the reference cut (their nbval outputs)
	$(BIN)/python -m analysis_lib.pipeline.reference_outputs

benchmark: setup
	$(BIN)/python benchmarks/run_benchmark.py

clean:
	rm -rf _output _build
