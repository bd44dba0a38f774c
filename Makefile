# Two commands do all set-up on a fresh machine:
#   make demo   creates .venv if missing, installs gfm, runs the whole pipeline on generated data
#   make test   creates .venv if missing, installs gfm with dev extras, runs the test suite
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip install --constraint constraints.txt

.PHONY: demo test install install-dev lint clean

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PIP) --quiet torch==2.13.0
	$(PIP) --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/gfm run

test: install
	$(VENV)/bin/python -m pytest -q tests

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy gfm ingest warehouse validation feature_repo embedding_jobs vector_index pipeline

clean:
	rm -rf .gfm
