# The README's two commands: `make run` serves the app, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
export FLASK_APP := webapp
# The suite runs on SQLite with photos in a folder, then again on a throwaway PostgreSQL with
# photos in a throwaway S3 server (scripts/with-s3) and a throwaway Redis (scripts/with-redis);
# TEST_POSTGRES=0 skips the second run.
TEST_POSTGRES ?= 1

.PHONY: run test setup dev chromium bench lint load

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Python and npm dependencies, vendor files into webapp/static/vendor, database migrated.
setup: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/flask assets build
	$(BIN)/flask db upgrade

run: setup
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

dev: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'

chromium:
	@scripts/ensure-chromium

test: dev chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)
ifneq ($(TEST_POSTGRES),0)
	scripts/with-postgres scripts/with-s3 scripts/with-redis $(BIN)/python -m pytest $(PYTEST_ARGS)
endif

# Seeds two years of data in a temporary database and measures server time, queries, bytes,
# photo processing and phone metrics; writes bench/results.md (see README, "Benchmarks").
bench: dev chromium
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

lint: dev
	$(BIN)/ruff check .

# bench/load.py on SQLite, then on a throwaway PostgreSQL; figures go to bench/load-results.md.
load: dev
	$(BIN)/python bench/load.py --db sqlite
	scripts/with-postgres $(BIN)/python bench/load.py --db postgres
