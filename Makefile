# Patchbay: `make run` sets everything up and serves the app; `make test` sets up and runs the whole suite;
# `make test-fast` is the everyday loop (everything but the browser, slow and fault tests, about a minute).
# Every step is a file target, so a second run only redoes what changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json -type f 2>/dev/null)

.PHONY: run test test-fast setup setup-python setup-frontend migrate chromium lint pytest pytest-postgres frontend-test clean run-scale \
	api-types api-types-check

# `make run PORT=8123` (or HOST=0.0.0.0) serves elsewhere: the login hint and the demo connector follow.
run: export PATCHBAY_DEMO := $(or $(PATCHBAY_DEMO),1)
run: setup migrate
	$(PY) manage.py ensure_local_admin --host $(HOST) --port $(PORT)
	$(PY) manage.py load_demo --host $(HOST) --port $(PORT) --skip-if-off
	@echo "Serving Patchbay on http://$(HOST):$(PORT)/"
	PATCHBAY_DEBUG=$${PATCHBAY_DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

test: setup chromium lint frontend-test pytest pytest-postgres

# No browser, no `slow` (fuzzing, long streams, server processes) and no `faults` (tests/reliability) tests:
# the loop to run while changing code. `make test` (and CI) still run everything.
FAST_TESTS := not browser and not slow and not faults

# Two pytest processes: much of a test's wall time is waiting (script processes, servers, sockets), so two
# workers nearly halve the loop on two cores. Every pytest process has its own test database (config/settings.py).
test-fast: setup
	$(PY) -m pytest -m "$(FAST_TESTS)" -q -n 2

setup: setup-python setup-frontend

setup-python: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

setup-frontend: frontend/dist/manifest.json

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

frontend/dist/manifest.json: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build --silent
	test -f $@ || mv frontend/dist/.vite/manifest.json $@
	touch $@

migrate: setup-python
	$(PY) manage.py migrate --noinput

# Browser tests drive Debian's Chromium; Playwright's own browser download does not work offline.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "Chromium is missing: run 'sudo apt-get install -y chromium' (browser tests are skipped without it)."; fi

# ruff (lint + format) and mypy with django-stubs over the app code (pyproject's [tool.mypy] leaves out tests).
lint: setup-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

frontend-test: frontend/node_modules/.installed api-types-check
	cd frontend && npm run --silent typecheck && npm run --silent lint && npm test --silent

# The frontend's API types and server lists are generated from the server's code (frontend/README.md):
# `make api-types` rewrites them after an API change; the check fails when a committed one is stale.
api-types: setup-python frontend/node_modules/.installed
	$(PY) frontend/scripts/generate_api_types.py

api-types-check: setup-python frontend/node_modules/.installed
	$(PY) frontend/scripts/generate_api_types.py --check

pytest: setup
	$(PY) -m pytest

# The same suite against PostgreSQL when PATCHBAY_TEST_DATABASE_URL is set (.ci/run sets it); browser tests
# already ran above and do not depend on the database engine.
pytest-postgres: setup
	@if [ -n "$$PATCHBAY_TEST_DATABASE_URL" ]; then \
		PATCHBAY_TEST_ON_POSTGRES=1 $(PY) -m pytest -m "not browser" -p no:cacheprovider; \
	else echo "PATCHBAY_TEST_DATABASE_URL is unset: the PostgreSQL pass is skipped."; fi

# Scale mode: PostgreSQL + Redis on 127.0.0.1, uvicorn, two Celery workers and beat (Procfile.scale).
run-scale: setup
	$(PY) -c 'import psycopg; c = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True); \
		exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", ("patchbay",)).fetchone(); \
		exists or c.execute("CREATE DATABASE patchbay")'
	set -a && . config/scale.env && set +a && export PATCHBAY_DEMO=$${PATCHBAY_DEMO:-1} && \
		$(PY) manage.py migrate --noinput && \
		$(PY) manage.py ensure_local_admin --port 8000 && $(PY) manage.py load_demo --port 8000 && \
		$(VENV)/bin/honcho start -f Procfile.scale -e config/scale.env

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist var/static
