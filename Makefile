# creditbank: `make run` serves the demo on embedded SQLite; `make test` runs everything.
PYTHON ?= $(shell command -v python3.12 || command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format migrate demo worker clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "creditbank needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

run: install
	$(BIN)/creditbank migrate
	$(BIN)/creditbank demo
	$(BIN)/creditbank serve

test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy creditbank api workers migrations

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
