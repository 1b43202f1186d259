# The commands the README names. Everything installs from the project's own files.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help bootstrap bundles dev test lint typecheck format

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install Debian packages, uv, the Python workspace and npm packages
	@scripts/bootstrap.sh

# Reference bundles are built in their own environment (tools/bundle-builder: the data packages
# and the numpy/pandas/pyarrow they need), which is only set up when a bundle is missing.
BUNDLE_BUILDER := uv run --frozen --project tools/bundle-builder anntools

bundles: ## build the GRCh37 and GRCh38 reference bundles into the cache (once; ~1 min)
	@uv run --no-sync anntools bundle ensure --build GRCh37 --build GRCh38 --builder "$(BUNDLE_BUILDER)"

dev: bootstrap bundles ## start the whole stack on embedded defaults (Ctrl-C stops it)
	@uv run --no-sync python scripts/devstack.py

test: bootstrap bundles ## install what the tests need and run unit + integration tests
	@scripts/run-tests.sh $(ARGS)

lint: ## ruff lint and format check
	@uv run --no-sync ruff check . && uv run --no-sync ruff format --check .

typecheck: ## mypy over the Python packages
	@uv run --no-sync mypy $(wildcard libs/*/src services/*/src tests/support/src)

format: ## apply ruff formatting and safe fixes
	@uv run --no-sync ruff check --fix . && uv run --no-sync ruff format .
