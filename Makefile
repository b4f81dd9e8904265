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

# uv (from PyPI) resolves the locks; pinned so that `make lock` gives the same answer everywhere.
UV_VERSION ?= 0.13.9

.PHONY: run test setup dev chromium bench lint load lock lock-check screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Python dependencies exactly as locked (requirements.lock, hashes checked), npm packages,
# the static files built into webapp/dist (bundled, hashed, compressed), database migrated.
setup: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/flask assets build
	$(BIN)/flask db upgrade

# Served on the loopback address; open it as localhost: WebAuthn (passkeys) refuses an IP address.
run: setup
	@echo "Rollwise: open http://localhost:$(PORT) (passkeys need localhost, not 127.0.0.1)"
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

dev: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock

# Re-resolve requirements.lock and requirements-dev.lock from pyproject.toml (after adding or
# changing a dependency). Pins that still fit are kept; LOCK_ARGS=--upgrade moves them all.
lock: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/python scripts/lock.py compile $(LOCK_ARGS)

# Fails when pyproject.toml changed after the locks were made (tests/test_lock.py says the same).
lock-check: $(BIN)/python
	$(BIN)/python scripts/lock.py check

# The store-listing screenshots in the web app manifest, from the real screens (Pixel 7 and a
# tablet), into webapp/static/screenshots/ (committed: they are our own images).
screenshots: dev chromium
	ROLLWISE_SCREENSHOTS=1 $(BIN)/python -m pytest e2e/test_screenshots.py -q -p no:randomly
	$(BIN)/flask assets build

chromium:
	@scripts/ensure-chromium

test: dev chromium lock-check
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
