# The commands the README names. Everything installs from the project's own files.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help bootstrap bundles web web-dev dev test lint typecheck format

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install Debian packages, uv, the Python workspace and npm packages
	@scripts/bootstrap.sh

bundles: ## build the GRCh37 and GRCh38 reference bundles into the cache (once; ~1 min)
	@uv run --no-sync python -c "import anntools; [print('reference bundle ready:', anntools.ensure_bundle(b)) for b in ('GRCh37', 'GRCh38')]"

web: bootstrap ## build the web app into services/web/dist (the gateway serves it at /)
	@cd services/web && npm run --silent build

web-dev: ## the web app with hot reload on :5173, its API calls sent to a running `make dev`
	@cd services/web && npx vite --host 127.0.0.1

dev: bootstrap bundles web ## start the whole stack on embedded defaults (Ctrl-C stops it)
	@uv run --no-sync python scripts/devstack.py

test: bootstrap ## install what the tests need and run unit + integration tests
	@scripts/run-tests.sh $(ARGS)

lint: ## ruff lint and format check
	@uv run --no-sync ruff check . && uv run --no-sync ruff format --check .

# The Python packages are the folders with a pyproject.toml (services/web is TypeScript).
PYTHON_SOURCES := $(patsubst %/pyproject.toml,%/src,$(wildcard libs/*/pyproject.toml services/*/pyproject.toml))

typecheck: ## mypy over the Python packages
	@uv run --no-sync mypy $(PYTHON_SOURCES)

format: ## apply ruff formatting and safe fixes
	@uv run --no-sync ruff check --fix . && uv run --no-sync ruff format .
