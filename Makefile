# shoal: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# the PostgreSQL password bootstrap may have set (Debian's default asks for one on 127.0.0.1)
export PGPASSFILE := $(CURDIR)/$(VENV)/pgpass

.PHONY: bootstrap test lint typecheck check demo bench clean

bootstrap:
	@scripts/bootstrap.sh

test: bootstrap
	$(PY) -m ruff check src tests bench scripts
	$(PY) -m ruff format --check src tests bench scripts
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $${SHOAL_TEST_JOBS:-2} -p no:cacheprovider

lint: bootstrap
	$(PY) -m ruff check src tests bench scripts
	$(PY) -m ruff format --check src tests

typecheck: bootstrap
	$(PY) -m mypy

demo: bootstrap
	$(PY) -m scripts.demo

bench: bootstrap
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
