# strigil: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR := demo-output
DEMO_PORT ?= 8000
DEMO_SECONDS ?=

VENDOR := src/strigil/dashboards/static/vendor/.built-stamp
VALIDATORS := tests/validators/node_modules/.installed-stamp

.PHONY: demo test lint typecheck unit bench clean servers static validators docker-lock

## static: the dashboards' front-end packages (pinned by web/package-lock.json), copied into
## the package's static files; nothing is loaded from a CDN
static: $(VENDOR)
$(VENDOR): web/package.json web/package-lock.json web/build.mjs
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $(VENDOR)

## validators: readers strigil did not write, for the tests (the official BIDS validator),
## pinned by tests/validators/package-lock.json
validators: $(VALIDATORS)
$(VALIDATORS): tests/validators/package.json tests/validators/package-lock.json
	cd tests/validators && npm ci --no-audit --no-fund --loglevel=error
	touch $(VALIDATORS)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[server,dev]'
	touch $(STAMP)

## demo: the whole service, end to end: a simulated file analysed and imported, then the API
## with the embedded store, a demo clinic and virtual tools streaming through the real ingester
demo: $(STAMP) $(VENDOR)
	mkdir -p $(DEMO_DIR)
	@echo "== 1. simulate a 10-minute session and analyse it against its ground truth"
	$(BIN)/strigil simulate --minutes 10 --seed 7 --rate-hz 200 -o $(DEMO_DIR)/session.csv --truth $(DEMO_DIR)/truth.json
	$(BIN)/strigil analyze $(DEMO_DIR)/session.csv --truth $(DEMO_DIR)/truth.json
	@echo
	@echo "== 2. store it with its analysis in the embedded store"
	STRIGIL_DATA_DIR=$(DEMO_DIR)/strigil-data $(BIN)/strigil import $(DEMO_DIR)/session.csv --patient P-001
	@echo
	@echo "== 3. the service: API (embedded store), demo clinic, two virtual tools streaming"
	@echo "==    through the real ingester and its spool into live sessions (Ctrl-C stops)"
	$(BIN)/strigil demo --port $(DEMO_PORT) --data-dir $(DEMO_DIR)/service $(if $(DEMO_SECONDS),--seconds $(DEMO_SECONDS))

## test: everything CI runs: lint, format check, strict typing, the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

## servers: the real InfluxDB (and its `influx` CLI, a reader we did not write), PostgreSQL and nginx (the guide's TLS proxy) the tests start, Chromium for the browser tests,
## GNU Octave for the .mat exports, and docker-compose to check the compose file (Debian packages, installed if missing; no Docker engine is needed)
servers:
	@if ! command -v influxd >/dev/null || ! command -v influx >/dev/null || ! command -v nginx >/dev/null || ! command -v openssl >/dev/null \
	    || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || ! command -v chromium >/dev/null || ! command -v dbus-daemon >/dev/null \
	    || ! { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; }; then \
	  echo "installing influxdb (server and CLI), postgresql, nginx, chromium, dbus-daemon and docker-compose from Debian's packages"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq influxdb influxdb-client postgresql nginx openssl \
	    chromium dbus-daemon docker-compose >/dev/null; \
	fi
	@if ! command -v octave >/dev/null; then \
	  echo "installing GNU Octave from Debian's packages (the tests load .mat exports with it)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -qq --no-install-recommends octave >/dev/null 2>&1 \
	    || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends octave >/dev/null; }; \
	fi

unit: $(STAMP) $(VENDOR) $(VALIDATORS) servers
	$(BIN)/pytest -n 2 --dist loadgroup -q

## bench: the benchmarks of docs/benchmarks.md
bench: $(STAMP) $(VENDOR) servers
	$(BIN)/python bench/bench_analysis.py
	$(BIN)/python bench/bench_patterns.py
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_forward_latency.py
	$(BIN)/python bench/bench_spool.py
	$(BIN)/python bench/bench_api_ingest.py
	$(BIN)/python bench/bench_live_latency.py
	$(BIN)/python bench/bench_browser_latency.py

## docker-lock: regenerate requirements-docker.txt (hash-pinned) after a dependency change
docker-lock:
	deploy/lock-docker-requirements.sh

clean:
	rm -rf $(VENV) $(DEMO_DIR) web/node_modules tests/validators/node_modules src/strigil/dashboards/static/vendor .pytest_cache .mypy_cache .ruff_cache
