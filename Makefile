# Every target sets up what it needs; CI runs `make test` exactly as a developer does.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck typecheck-airflow airflow-venv docs pytest install redis-binary demo bench bench-split bench-pipeline bench-ingestion clean

test: install redis-binary lint typecheck typecheck-airflow docs pytest

$(STAMP): pyproject.toml setup.py workers/split/_textscan.c workers/split/_textscan_loops.h
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Tests start their own redis-server on a free loopback port; they only need the binary.
redis-binary:
	@command -v redis-server >/dev/null || { \
	  echo "redis-server missing: installing it"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) \
	  || (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server); }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# Airflow (workers/integrations/airflow/, tests/integrations/) runs in its own virtualenv, built once
# outside the checkout under ~/.cache/mkto-bulk/ (keyed by the hash of its pinned requirements,
# tests/integrations/airflow_env/requirements.txt) and reused by every later run and clone.
AIRFLOW_VENV = $(shell $(PY) -m tests.integrations.airflow_venv)

airflow-venv: install
	@$(PY) -m tests.integrations.airflow_venv

# The Airflow integration checked against Airflow's own types (the main run sees airflow as Any);
# its cache lives with the venv, so a fresh clone pays seconds, not the cold run.
typecheck-airflow: airflow-venv
	$(VENV)/bin/mypy --python-executable $(AIRFLOW_VENV)/bin/python \
	  --cache-dir $(AIRFLOW_VENV)/.mypy_cache workers/integrations/airflow tests/integrations/airflow_env

# The documentation site (docs/, mkdocs.yml) into site/; strict: a broken link, an unknown anchor
# or a page missing from the nav fails the build.
docs: install
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

pytest: install redis-binary airflow-venv
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The main job end to end on this machine (docs/quick-start.md); DEMO_ARGS="--fast --no-linger" etc.
demo: install redis-binary
	$(PY) -m infra.demo $(DEMO_ARGS)

bench: bench-split bench-pipeline

bench-split: install redis-binary
	$(PY) bench/split_bench.py

bench-pipeline: install redis-binary
	$(PY) bench/pipeline_bench.py --chunks 100 --workers 3 --time-scale 1

# 300,000 leads by bulk import and by the Data Ingestion API (docs/etl/ingestion.md, "Speed").
bench-ingestion: install redis-binary
	$(PY) bench/ingestion_bench.py --time-scale 1 --in-flight 4 8

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site
