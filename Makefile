# Everything here works on a fresh machine with only python3: the venv is made on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: test lint bench clean demo

$(VENV)/.installed: setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

## make test: the whole suite (SQLite; POSTMARK_TEST_DATABASE=postgres for PostgreSQL)
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

## make demo: the example site, the local Postmark sandbox and a task worker (Ctrl-C stops all)
demo: $(VENV)/.installed
	$(PY) example_project/demo.py

## make lint: ruff and mypy, as CI runs them
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check postmark tests example_project
	$(VENV)/bin/ruff format --check postmark tests example_project
	$(VENV)/bin/mypy postmark

## make bench: the benchmarks in tests/benchmarks (they print ratios; they are not timed tests)
bench: $(VENV)/.installed
	@for script in tests/benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
