# Two commands set everything up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install run serve test lint format bench bench-load clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

# Development settings for every manage.py command (shell, llm_check, llm_chat), not only
# the server `make run` starts. Written once; an existing .env is never touched.
.env:
	@printf '%s\n' '# Local development settings, written by `make run`. Every variable: .env.example.' \
		'DEBUG=1' > $@
	@echo "Wrote .env with DEBUG=1 for local development (see .env.example for every setting)."

run: export DEBUG ?= 1
run: install .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py ensure_staff
	$(PY) manage.py runserver $(HOST):$(PORT)

# Production-style serving: WORKERS Daphne processes sharing HOST:PORT (default: one per
# core). More than one needs REDIS_URL; see docs/deployment.md. `make run` stays one process.
WORKERS ?=
DAPHNE_OPTIONS ?=

serve: install
	$(PY) -m tutor_project.serve $(if $(WORKERS),--workers $(WORKERS)) --host $(HOST) --port $(PORT) $(if $(DAPHNE_OPTIONS),-- $(DAPHNE_OPTIONS))

# In parallel, one process per core (at most four), a test file per process at a time:
# see tutor_project/testing/workers.py for what keeps them apart. PYTEST_ARGS="-n 0" runs
# in this process only.
TEST_PARALLEL ?= -n auto --maxprocesses=4 --dist loadfile

test: install
	$(PY) -m pytest $(TEST_PARALLEL) $(PYTEST_ARGS)

# Style (ruff) and the import layers (import-linter, contract in .importlinter).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The hot paths and the served path one turn at a time, then the served path under load.
bench: install
	$(PY) bench/run.py
	$(PY) -m bench.load.run

# The served path under load (bench/load/run.py): direct LiteLLM against the tutor at
# c = 1, 10, 50, 200, one and two workers, 2,000 idle sockets, queries per turn; under
# ten minutes. BENCH_QUICK=1: c = 1 and 10, 200 sockets.
bench-load: install
	$(PY) -m bench.load.run

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache
