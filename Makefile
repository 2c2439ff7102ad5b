# Every target sets up what it needs; CI runs `make test` exactly as a developer does.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck docs pytest install redis-binary promtool demo bench bench-split bench-pipeline bench-ingestion clean

test: install redis-binary promtool lint typecheck docs pytest

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

# promtool checks and unit-tests the alert rules (infra/monitoring); it comes with Debian's
# prometheus package. Without recommends (no node exporter); no test needs the server it ships.
promtool:
	@command -v promtool >/dev/null || { \
	  echo "promtool missing: installing Debian's prometheus package"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
	  || (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus); }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

# The documentation site (docs/, mkdocs.yml) into site/; strict: a broken link, an unknown anchor
# or a page missing from the nav fails the build.
docs: install
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

pytest: install redis-binary promtool
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
