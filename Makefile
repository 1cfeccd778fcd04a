# Everything a user runs. `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test check bench ui psql db-stop clean report-screenshot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make demo: embedded PostgreSQL + simulators + a 3-day backfill through Dagster, then a summary
demo: install
	$(BIN)/cdr-etl demo

## make test: the whole suite against the embedded PostgreSQL (or CDR_TEST_DATABASE_URL), in
# TEST_WORKERS pytest-xdist workers, each test file on one worker, each worker its own database.
# Three on two cores: with two, a quarter of the cores' time went idle while tests waited on
# subprocesses, timeouts and backoff (/proc/stat over a run: 1.52 of 2 cores busy, 516 s; with
# three 1.70 busy, 453 s).
TEST_WORKERS ?= 3
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## make check: the lint and type gate CI runs: ruff, mypy, import-linter contracts, no import cycles
# Runs all four even when one fails, so one CI run shows every finding; fails if any failed.
check: install
	@status=0; \
	$(BIN)/ruff check pipelines tests tools || status=1; \
	$(BIN)/mypy || status=1; \
	$(BIN)/lint-imports || status=1; \
	$(BIN)/python tools/check_import_cycles.py || status=1; \
	$(BIN)/python tools/check_provider_independence.py || status=1; \
	exit $$status

## make bench: throughput and memory figures (LEGS=1000000 by default); PEERS=dlt also times dlt's
# merge on the same legs, installing the optional extra `peers` first if dlt is missing
bench: install
	$(if $(PEERS),$(BIN)/python -c 'import dlt' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[peers]')
	$(BIN)/python -m pipelines.bench $(if $(LEGS),--legs $(LEGS)) $(if $(PEERS),--peers $(PEERS))
	$(BIN)/python tools/doc_figures.py --bench

## make figures: run the fault tests, then put what they measured into README.md and docs/reliability.md
figures: install
	$(BIN)/python -m pytest -p no:xdist tests/faults/test_provider_fault_matrix.py tests/recovery
	$(BIN)/python tools/doc_figures.py

## make report-screenshot: the browser test of the demo's report (tests/report), keeping the top of the
# report as docs/report.png (README's "Report")
report-screenshot: install
	CDR_REPORT_SCREENSHOT=docs/report.png $(BIN)/python -m pytest -p no:xdist tests/report/test_report_browser.py

## make ui: the Dagster UI (webserver and daemon) on http://127.0.0.1:3000, with the simulators running
ui: install
	$(BIN)/cdr-etl ui

## make psql: a SQL shell on the warehouse
psql: install
	$(BIN)/cdr-etl db psql

## make db-stop: stop the embedded PostgreSQL (its data stays in .pgdata/)
db-stop: install
	$(BIN)/cdr-etl db stop

clean: db-stop
	rm -rf $(VENV) .pgdata .dagster_home .bench
