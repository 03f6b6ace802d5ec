# auditapp developer commands. `make run` serves the demo on http://127.0.0.1:5000 (embedded PostgreSQL in instance/).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: help run test bench vendor clean
.DEFAULT_GOAL := help

help:
	@echo "make run     install (if pyproject.toml changed), start PostgreSQL in instance/, migrate, seed the demo, serve on http://$(HOST):$(PORT)"
	@echo "make test    PostgreSQL + moto S3 + pytest (args: make test ARGS='-k foo')"
	@echo "make bench   benchmarks (.ci/bench.sh)"
	@echo "make vendor  re-vendor govuk-frontend and htmx from npm into auditapp/static/vendor/"
	@echo "make clean   remove .venv, instance/ and caches"

$(VENV)/bin/python:
	python3 -m venv $(VENV)

# Re-install only when pyproject.toml is newer than the stamp, so re-runs are fast.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -e . 2>&1 | { grep -v 'is ignored' || true; }
	touch $@

# audit-tools dev-run: starts the embedded PostgreSQL (instance/pgdata), migrates, seeds, rolls up, serves;
# Ctrl-C stops the web server and then PostgreSQL.
run: $(VENV)/.installed
	$(VENV)/bin/audit-tools dev-run --host $(HOST) --port $(PORT)

test:
	bash .ci/test.sh $(ARGS)

bench:
	bash .ci/bench.sh

vendor:
	bash .ci/vendor_frontend.sh

clean:
	rm -rf $(VENV) instance .pytest_cache test-results build *.egg-info .ruff_cache .mypy_cache
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
