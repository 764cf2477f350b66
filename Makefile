# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE_DIR := build/sample_data
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install run test lint format docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## Generate the deterministic sample dataset and run the whole flow on DuckDB.
run: install
	$(BIN)/custseg generate-sample --out $(SAMPLE_DIR) --customers 2000 --seed 42
	$(BIN)/custseg run --data-dir $(SAMPLE_DIR)

## The whole test suite (dbt unit and data tests run inside it, on real DuckDB files).
test: install
	$(BIN)/pytest

## ruff over the Python; sqlfluff over the dbt SQL (.sqlfluff). sqlfluff's dbt templater compiles
## the project against the duckdb target: an in-memory DuckDB, so no warehouse file is written.
lint: install
	$(BIN)/ruff check src tests benchmarks ml_pipeline/notebooks
	$(BIN)/ruff format --check src tests benchmarks ml_pipeline/notebooks
	$(BIN)/python scripts/secret_scan.py
	CUSTSEG_DUCKDB_PATH=:memory: $(BIN)/sqlfluff lint dbt_pipeline/models dbt_pipeline/analyses \
		dbt_pipeline/macros dbt_pipeline/tests

format: install
	$(BIN)/ruff format src tests benchmarks ml_pipeline/notebooks
	$(BIN)/ruff check --fix src tests benchmarks ml_pipeline/notebooks

## dbt documentation, built offline into dbt_pipeline/target/static_index.html, on a throwaway
## DuckDB file under dbt_pipeline/target/docs_build/ (never the warehouse of a run).
docs: install
	$(BIN)/python -m custseg.dbt.docs

clean:
	rm -rf build dbt_pipeline/target dbt_pipeline/logs .pytest_cache
