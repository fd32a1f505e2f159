# bondedzone — `make run` and `make test` are all a newcomer needs.
PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
TSTAMP    := $(VENV)/.installed-test
PG_URL    ?= postgresql://postgres@127.0.0.1:5432/test
export BONDEDZONE_TEST_PG_URL ?= $(PG_URL)

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint bench soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(STAMP) ## migrate var/bondedzone.db, load the demo zone if empty, serve on :8000
	mkdir -p var
	$(BIN)/bondedzone serve

test: $(TSTAMP) ## the whole suite, on SQLite and PostgreSQL (PostgreSQL skipped, and said so, if absent outside CI)
	$(BIN)/pytest -q --cov --cov-report=term $(PYTEST_ARGS)

test-fast: $(TSTAMP) ## unit tests only
	$(BIN)/pytest -q tests/unit

lint: $(TSTAMP) ## ruff, ruff format --check, strict mypy, import contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(TSTAMP) ## benchmarks; results in bench/results/
	$(BIN)/python -m bench.run_all

soak: $(TSTAMP) ## long profiles: 20,000 stateful steps, 1,000 crashes
	BZ_SOAK=1 $(BIN)/pytest -q -m slow -x tests

clean: ## remove the venv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage
