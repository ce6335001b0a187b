# Chợ HTX — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?=
# `make run STRIPE_DEMO=1`: card payments against a fake Stripe (localstripe) on 127.0.0.1:STRIPE_DEMO_PORT,
# which posts its signed events to STRIPE_DEMO_WEBHOOK. Only a browser on this machine can reach it.
STRIPE_DEMO ?=
STRIPE_DEMO_PORT ?= 8420
STRIPE_DEMO_WEBHOOK ?= http://127.0.0.1:$(PORT)/payments/stripe/webhook
export FLASK_APP := wsgi

.PHONY: run serve lint test install install-test translations extract-messages db-upgrade demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

# localstripe alone (the version the test extra pins), for `make run STRIPE_DEMO=1`.
$(VENV)/.installed-localstripe: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q "$$(grep -o '"localstripe[^"]*"' pyproject.toml | tr -d '"')"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed translations
install-test: $(VENV)/.installed-test translations

# Compiled catalogues are build output (not committed); rebuilt whenever a .po changes.
translations: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d marketplace/translations

# Re-extract UI strings after changing templates or code, then translate the new entries in the .po files.
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k lazy -w 108 -o marketplace/translations/messages.pot .
	$(BIN)/pybabel -q update -N -w 108 --ignore-obsolete -i marketplace/translations/messages.pot -d marketplace/translations

# HOST and PORT also reach the application: in development, links in emails, QR codes and labels are built on
# http://HOST:PORT unless PUBLIC_BASE_URL is set (marketplace/config.py, local_base_url).
run: install $(if $(filter 1,$(STRIPE_DEMO)),$(VENV)/.installed-localstripe)
	MARKETPLACE_ENV=development $(BIN)/flask db upgrade
	MARKETPLACE_ENV=development $(BIN)/flask seed-demo
	MARKETPLACE_ENV=development $(BIN)/flask search sync
ifeq ($(STRIPE_DEMO),1)
	$(BIN)/python -m marketplace.payments.fake_stripe --port $(STRIPE_DEMO_PORT) \
	    --webhook $(STRIPE_DEMO_WEBHOOK) --webhook-secret whsec_demo & \
	fake=$$!; trap 'kill $$fake 2>/dev/null; wait $$fake 2>/dev/null' EXIT INT TERM; \
	HOST=$(HOST) PORT=$(PORT) MARKETPLACE_ENV=development STRIPE_SECRET_KEY=sk_test_demo STRIPE_PUBLISHABLE_KEY=pk_test_demo \
	    STRIPE_WEBHOOK_SECRET=whsec_demo STRIPE_API_BASE=http://127.0.0.1:$(STRIPE_DEMO_PORT) \
	    STRIPE_JS_URL=http://127.0.0.1:$(STRIPE_DEMO_PORT)/js.stripe.com/v3/ \
	    $(BIN)/flask run --host $(HOST) --port $(PORT)
else
	HOST=$(HOST) PORT=$(PORT) MARKETPLACE_ENV=development $(BIN)/flask run --host $(HOST) --port $(PORT)
endif

# A real deployment on this host: the production profile (set SECRET_KEY, DATABASE_URL, PUBLIC_BASE_URL...,
# see docs/deploy.md), `flask db upgrade` and `flask search sync`, then gunicorn with WORKERS workers
# (default 2 x CPUs + 1) on HOST:PORT, the search index follower, and an RQ worker when REDIS_URL is set
# (Procfile, run by marketplace/serve.py). Ctrl-C or SIGTERM stops them all gracefully.
serve: install
	HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) $(BIN)/python -m marketplace.serve

# Lint first (ruff: pycodestyle, pyflakes, import order, bugbear, pyupgrade; settings in pyproject.toml).
lint: install-test
	$(BIN)/ruff check .

# The suite runs in TEST_PROCESSES processes (pytest-xdist; each test file stays in one process, so its module
# fixtures are built once): 2 for the 2-core CI machine. `make test TEST_PROCESSES=0` runs it in this process.
TEST_PROCESSES ?= 2
test: install-test lint
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance/*.sqlite3 instance/*.sqlite3-wal instance/*.sqlite3-shm search_index/*[!p] test-artifacts
