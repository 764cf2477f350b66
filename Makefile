# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE_DIR := build/sample_data
# detect-secrets over the files git tracks, against the audited baseline (README, "Secrets").
# Fails on any finding not in .secrets.baseline; when only line numbers moved it rewrites the
# baseline and fails once: commit it. --no-verify: no finding is ever sent to a vendor to check.
# tests/test_secrets.py runs this very line.
CREDENTIAL_SCAN = git ls-files -z | xargs -0 $(BIN)/detect-secrets-hook --no-verify --baseline .secrets.baseline
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

## The whole test suite (dbt unit and data tests run inside it, on real DuckDB files), on two
## workers (one per core); a test file stays on one worker, so its shared fixtures are built once.
test: install
	$(BIN)/pytest -n 2 --dist loadfile

## ruff over the Python; detect-secrets over the tracked files, then a check that every finding in
## its baseline is audited as a false positive; sqlfluff over the dbt SQL (.sqlfluff). sqlfluff's
## dbt templater compiles the project against the duckdb target: an in-memory DuckDB, so no
## warehouse file is written. dbt cannot parse the project without the published seeds, which
## git does not hold: custseg.dbt.placeholders writes header-only ones where none exist.
lint: install
	$(BIN)/ruff check src tests benchmarks scripts ml_pipeline/notebooks
	$(BIN)/ruff format --check src tests benchmarks scripts ml_pipeline/notebooks
	$(CREDENTIAL_SCAN)
	$(BIN)/python scripts/check_secrets_baseline.py .secrets.baseline
	$(BIN)/python -m custseg.dbt.placeholders
	CUSTSEG_DUCKDB_PATH=:memory: $(BIN)/sqlfluff lint dbt_pipeline/models dbt_pipeline/analyses \
		dbt_pipeline/macros dbt_pipeline/tests

format: install
	$(BIN)/ruff format src tests benchmarks scripts ml_pipeline/notebooks
	$(BIN)/ruff check --fix src tests benchmarks scripts ml_pipeline/notebooks

## dbt documentation, built offline into dbt_pipeline/target/static_index.html, on a throwaway
## DuckDB file under dbt_pipeline/target/docs_build/ (never the warehouse of a run).
docs: install
	$(BIN)/python -m custseg.dbt.docs

clean:
	rm -rf build dbt_pipeline/target dbt_pipeline/logs .pytest_cache
