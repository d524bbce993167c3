# creditbank: `make run` serves the demo on embedded SQLite; `make test` runs everything.
# The first interpreter that runs and is 3.11+ (a pyenv shim may exist but not run).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; \
	then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint audit format migrate demo worker clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "creditbank needs Python 3.11+ (none found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

run: install
	$(BIN)/creditbank migrate
	$(BIN)/creditbank demo
	$(BIN)/creditbank serve

# Two test workers on a 2-core machine: most tests wait on a database or a server process.
test: install lint
	$(BIN)/pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy creditbank api workers migrations tests
	$(BIN)/lint-imports

# Known vulnerabilities in the installed dependencies (PyPI advisory database / OSV).
audit: install
	$(BIN)/pip-audit --skip-editable --desc

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install
	$(BIN)/creditbank migrate

demo: install
	$(BIN)/creditbank demo

worker: install
	$(BIN)/creditbank worker

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
