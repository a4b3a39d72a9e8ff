# Everything here works on a fresh machine with only python3: the venv is made on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: test fuzz lint bench clean demo demo-reset dist test-wheel docs

$(VENV)/.installed: setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

## make test: the whole suite (SQLite; POSTMARK_TEST_DATABASE=postgres for PostgreSQL)
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

## make fuzz: the Hypothesis suites (webhooks, sending, storage, settling) with many more examples each
FUZZ_TESTS = tests/webhooks/test_fuzz.py tests/webhooks/test_hostile.py \
	$(shell grep -l '@given' tests/sending/*.py) tests/storage/test_portable_storage.py \
	tests/operations/test_never_twice.py
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest $(FUZZ_TESTS) $(PYTEST_ARGS)

## make demo: the example site, the local Postmark sandbox and a task worker (Ctrl-C stops all).
## Ports: EXAMPLE_PORT (8000) and EXAMPLE_SANDBOX_PORT (8025), e.g. EXAMPLE_PORT=8001 make demo.
DEMO_ARGS ?=
demo: $(VENV)/.installed
	$(PY) example_project/demo.py $(DEMO_ARGS)

## make demo-reset: the same, after deleting the demo's database and logs (a fresh start)
demo-reset: $(VENV)/.installed
	$(PY) example_project/demo.py --reset $(DEMO_ARGS)

## make dist: the sdist and the wheel in dist/, checked as CI checks them
dist: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[release]'
	rm -rf dist build
	$(PY) -m build --outdir dist .
	$(VENV)/bin/twine check --strict dist/*
	$(VENV)/bin/check-wheel-contents dist/*.whl
	$(PY) .ci/check_dist.py dist

## make test-wheel: make dist, then the suite against the wheel installed in a fresh venv (not
## this checkout): every test but those marked `checkout` (they need the example project or
## README). Fails unless postmark, its templates and its pytest plugin came from the wheel.
test-wheel: dist
	$(PY) .ci/test_wheel.py dist $(PYTEST_ARGS)

## make lint: ruff and mypy, as CI runs them
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check postmark tests example_project
	$(VENV)/bin/ruff format --check postmark tests example_project
	$(VENV)/bin/mypy postmark

## make docs: the documentation (docs/, Sphinx) as HTML in build/docs; any warning fails it, and so
## does a setting or a signal the reference pages do not document. Needs only the docs extra.
$(VENV)/.docs-installed: setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $@

docs: $(VENV)/.docs-installed
	rm -rf build/docs
	$(PY) -m sphinx -W --keep-going -b html docs build/docs
	@echo "The documentation: $(CURDIR)/build/docs/index.html"

## make bench: the benchmarks in tests/benchmarks (they print ratios; they are not timed tests).
## Several need PostgreSQL on 127.0.0.1:5432 (bench_queued Redis too); see docs/benchmarks.rst.
bench: $(VENV)/.installed
	@for script in tests/benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

## make clean: the venv, build output, caches, and the demo's database and logs
clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -rf example_project/db.sqlite3 example_project/db.sqlite3-* example_project/logs
