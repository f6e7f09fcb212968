# Two commands on a fresh machine: `make run` and `make test` (see README).
SHELL := /bin/bash
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000

# A Python >= 3.12: $(PYTHON) when given, else the first that qualifies on PATH or
# under pyenv.
PYTHON ?= $(shell for c in python3.13 python3.12 python3 \
	$$HOME/.pyenv/versions/3.13*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3 \
	/usr/local/bin/python3.13 /usr/local/bin/python3.12; do \
	  p=$$(command -v $$c 2>/dev/null) || continue; \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; \
	done)

PY := $(VENV)/bin/python

# DEBUG is off unless asked for (casino/settings.py); the development targets ask,
# unless the environment already says. `make serve` is production and turns it off.
export DEBUG ?= true

.PHONY: help venv install install-dev migrate seed run test test-fast lint format bench check clean serve worker beat bench-webhooks

help:
	@echo "make run    - set up, migrate, seed demo data, serve on http://$(HOST):$(PORT)"
	@echo "make test   - install test dependencies and run the whole suite"
	@echo "make lint   - ruff + makemigrations --check"
	@echo "make bench  - ledger benchmark (needs DATABASE_URL on PostgreSQL)"
	@echo "make loadtest - players, PSP webhooks and an operator against gunicorn + workers for"
	@echo "               LOADTEST_SECONDS (120), then every invariant; p50/p95/p99 per endpoint"
	@echo "               (needs DATABASE_URL on PostgreSQL and Redis; docs/testing.md)"

$(PY):
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: Python >= 3.12 not found. Install it (e.g. 'pyenv install 3.13' or your"; \
	  echo "       distribution's python3.12 package), or run: make PYTHON=/path/to/python3.12"; \
	  exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' || \
	  { echo "error: $(PYTHON) is older than 3.12; Django 6 needs 3.12+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

venv: $(PY)

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

# Demo deposits are paid through the PSP simulator and the real webhook code.
seed: migrate
	PAYMENTS_SIMULATOR_ENABLED=$${PAYMENTS_SIMULATOR_ENABLED:-true} \
	  $(PY) manage.py seed_demo
	PAYMENTS_SIMULATOR_ENABLED=$${PAYMENTS_SIMULATOR_ENABLED:-true} \
	  $(PY) manage.py seed_withdrawals_demo --tenant aurora
	PAYMENTS_SIMULATOR_ENABLED=$${PAYMENTS_SIMULATOR_ENABLED:-true} \
	  $(PY) manage.py seed_payments_demo
	$(PY) manage.py seed_crm_demo

run: seed
	@echo ""
	@echo "  Player portal:  http://$(HOST):$(PORT)/"
	@echo "  Admin:          http://$(HOST):$(PORT)/admin/"
	@echo "  API docs:       http://$(HOST):$(PORT)/api/docs/"
	@echo ""
	PAYMENTS_SIMULATOR_ENABLED=$${PAYMENTS_SIMULATOR_ENABLED:-true} \
	  $(PY) manage.py runserver $(HOST):$(PORT)

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) manage.py bench_ledger

# issue 9: production processes (docs/deploy.md). They need the production
# environment: SECRET_KEY, FIELD_ENCRYPTION_KEYS, DATABASE_URL, CACHE_URL,
# CELERY_BROKER_URL, ALLOWED_HOSTS.
serve: install
	DEBUG=false $(PY) manage.py collectstatic --noinput -v 0
	DEBUG=false $(VENV)/bin/gunicorn casino.wsgi -c casino/gunicorn_conf.py

worker: install
	DEBUG=false $(VENV)/bin/celery -A casino worker --loglevel INFO --concurrency $${WORKER_CONCURRENCY:-4}

beat: install
	DEBUG=false $(VENV)/bin/celery -A casino beat --loglevel INFO --schedule $${BEAT_SCHEDULE_FILE:-/tmp/casino-celerybeat-schedule}

bench-webhooks: install
	$(PY) manage.py bench_webhooks

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles test-artifacts

# --- issue 14: long runs of the chaos layers (docs/testing.md); need DATABASE_URL on PostgreSQL ---
SOAK_EXAMPLES ?= 300
SOAK_STEPS ?= 60
.PHONY: soak
soak: install-dev
	@test -n "$$DATABASE_URL" || { echo "make soak needs DATABASE_URL=postgres://..."; exit 1; }
	REQUIRE_POSTGRES=1 SIMULATION_EXAMPLES=$(SOAK_EXAMPLES) SIMULATION_STEPS=$(SOAK_STEPS) \
	  SCHEMATHESIS_MAX_EXAMPLES=$${SCHEMATHESIS_MAX_EXAMPLES:-200} WEBHOOK_FUZZ_EXAMPLES=$${WEBHOOK_FUZZ_EXAMPLES:-2000} \
	  SCHEMATHESIS_STATEFUL_SCENARIOS=$${SCHEMATHESIS_STATEFUL_SCENARIOS:-500} SCHEMATHESIS_STATEFUL_STEPS=$${SCHEMATHESIS_STATEFUL_STEPS:-15} \
	  $(PY) -m pytest -s -q -p no:cacheprovider tests/simulation \
	    tests/api/test_openapi_schemathesis.py tests/payments/webhooks/test_webhook_fuzz.py

# --- issue 14: load test over the real server (docs/testing.md, "Load test") ---------
# gunicorn (DEBUG=false) + Celery workers + local fake Stripe/Adyen on loopback; a
# fresh brand per run. Needs DATABASE_URL on PostgreSQL and a Redis database of its
# own (LOADTEST_REDIS_URL: it is flushed).
LOADTEST_SECONDS ?= 120
LOADTEST_CLIENTS ?= 4
LOADTEST_WORKERS ?= 2
LOADTEST_REDIS_URL ?= redis://127.0.0.1:6379/5
.PHONY: loadtest
loadtest: install
	@test -n "$$DATABASE_URL" || { echo "make loadtest needs DATABASE_URL=postgres://... (and Redis)"; exit 1; }
	$(PY) manage.py migrate --noinput -v 0
	$(PY) -m tests.load --seconds $(LOADTEST_SECONDS) --clients $(LOADTEST_CLIENTS) \
	  --workers $(LOADTEST_WORKERS) --redis $(LOADTEST_REDIS_URL)
