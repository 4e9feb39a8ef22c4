# The two set-up commands of README.md: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

# Development defaults; production sets its own environment (README, "Configuration").
export DJANGO_DEBUG ?= true

# `make test` runs on PostgreSQL and Redis (started by .ci/run in CI).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/billing_portal
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

# `make bench`: its own database (dropped and recreated by every run) and broker.
BENCH_SCALE ?= full
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/billing_bench
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/14
BENCH_ARGS ?=

DEMO_CUSTOMER_EMAIL := demo@example.com
DEMO_CUSTOMER_PASSWORD := demo-customer-pw
DEMO_FINANCE_EMAIL := finance@example.com
DEMO_FINANCE_PASSWORD := demo-finance-pw
DEMO_DAYS := 60

.PHONY: help install run test lint migrate demo bench worker beat

help:
	@echo "make run    - install, migrate, load demo data, rate it, serve on 127.0.0.1:8000"
	@echo "make test   - ruff, makemigrations --check and the whole pytest suite (PostgreSQL, Redis)"
	@echo "make bench  - the benchmark (PostgreSQL, Redis): BENCH_SCALE=full|small|tiny"

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	@$(PY) manage.py create_staff --email $(DEMO_FINANCE_EMAIL) --password $(DEMO_FINANCE_PASSWORD) --finance >/dev/null
	$(PY) manage.py seed_demo --days $(DEMO_DAYS) --customer-email $(DEMO_CUSTOMER_EMAIL) --customer-password $(DEMO_CUSTOMER_PASSWORD)
	$(PY) manage.py bill_history

run: demo
	@echo
	@echo "Portal:          http://127.0.0.1:8000/"
	@echo "Customer login:  $(DEMO_CUSTOMER_EMAIL) / $(DEMO_CUSTOMER_PASSWORD)"
	@echo "Finance login:   $(DEMO_FINANCE_EMAIL) / $(DEMO_FINANCE_PASSWORD)  (admin: http://127.0.0.1:8000/admin/)"
	@echo
	@if [ -n "$$CELERY_BROKER_URL" ]; then \
		echo "CELERY_BROKER_URL is set: starting a Celery worker and beat beside the server"; \
		$(VENV)/bin/celery -A portal worker --beat --loglevel=INFO --concurrency=2 & \
		worker=$$!; trap "kill $$worker 2>/dev/null" EXIT; \
		$(PY) manage.py runserver 127.0.0.1:8000; \
	else \
		$(PY) manage.py runserver 127.0.0.1:8000; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install
	DJANGO_DEBUG=false DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_hex(32))') \
	DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost DJANGO_SECURE_SSL_REDIRECT=false LOG_LEVEL=WARNING \
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=$(BENCH_BROKER_URL) \
	$(PY) manage.py bench --fresh --scale $(BENCH_SCALE) $(BENCH_ARGS)

worker: install
	$(VENV)/bin/celery -A portal worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A portal beat --loglevel=INFO
