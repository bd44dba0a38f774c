# Two commands do all set-up on a fresh machine:
#   make demo   creates .venv if missing, installs gfm, runs the whole pipeline on generated data
#   make test   creates .venv if missing, installs gfm with dev and spark extras (and Java 17 where
#               java is missing), runs the test suite
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip install --constraint constraints.txt

.PHONY: demo test install install-dev lint clean

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PIP) --quiet torch==2.13.0
	$(PIP) --quiet -e '.[dev,spark]'
	@# the Spark profile's tests need a Java 17+ runtime: Debian's, where java is missing
	command -v java >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq openjdk-17-jre-headless >/dev/null; } || \
		echo "could not install Java 17: the Spark profile's tests will fail naming it"
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
