# Every target sets up what it needs; CI runs `make test` exactly as a developer does.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck typecheck-integrations integration-venvs docs pytest install tools redis-binary chromium promtool demo bench bench-split bench-pipeline bench-ingestion clean

test: install tools lint typecheck typecheck-integrations docs pytest

$(STAMP): pyproject.toml setup.py workers/split/_textscan.c workers/split/_textscan_loops.h
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The Debian packages tests need, each installed when its command is missing:
# $(call debian,COMMAND,PACKAGE[,APT OPTIONS]).
define debian
	@command -v $(1) >/dev/null || { \
	  echo "$(1) missing: installing Debian's $(2)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(3) $(2)) \
	  || (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(3) $(2)); }
endef

tools: redis-binary chromium promtool

# Tests start their own redis-server on a free loopback port; they only need the binary.
redis-binary:
	$(call debian,redis-server,redis-server)

# The HTML report's test opens it in headless Chromium (tests/report/).
chromium:
	$(call debian,chromium,chromium)

# promtool checks and unit-tests the alert rules (infra/monitoring); it comes with Debian's
# prometheus package. Without recommends (no node exporter); no test needs the server it ships.
promtool:
	$(call debian,promtool,prometheus,--no-install-recommends)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# The schedulers' integrations (workers/integrations/: Airflow, Dagster) are tested in their own
# virtualenvs, built once outside the checkout under ~/.cache/mkto-bulk/ (keyed by the hash of
# their pinned requirements, tests/integrations/<name>_env/requirements.txt) and reused by every
# later run and clone.
INTEGRATIONS := airflow dagster

integration-venvs: install
	@for name in $(INTEGRATIONS); do $(PY) -m tests.integrations.venvs $$name || exit 1; done

# Each integration checked against its scheduler's own types (the main run sees them as Any);
# the cache lives with the venv, so a fresh clone pays seconds, not the cold run.
typecheck-integrations: integration-venvs
	@for name in $(INTEGRATIONS); do venv=$$($(PY) -m tests.integrations.venvs $$name) && \
	  echo "mypy ($$name venv)" && $(VENV)/bin/mypy --python-executable $$venv/bin/python \
	  --cache-dir $$venv/.mypy_cache workers/integrations/$$name tests/integrations/$${name}_env \
	  || exit 1; done

# The documentation site (docs/, mkdocs.yml) into site/; strict: a broken link, an unknown anchor
# or a page missing from the nav fails the build.
docs: install
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

# Most tests wait on services and worker processes, so they run side by side (each pytest-xdist
# worker starts its own Redis, S3 endpoint and sandbox); tests bounded in wall-clock time
# (marked serial) run after, alone. Exit code 5 is "no test selected" (a PYTEST_ARGS subset).
# A module marked xdist_group runs on one worker (the schedulers' tests: one slow process each).
PYTEST_WORKERS ?= 3
pytest: install tools integration-venvs
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(VENV)/bin/pytest -p no:xdist -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

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
