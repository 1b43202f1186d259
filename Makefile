# The commands the README names. Everything installs from the project's own files.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help bootstrap bundles web web-dev dev test soak lint typecheck format images k8s-smoke

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install Debian packages, uv, the Python workspace and npm packages
	@scripts/bootstrap.sh

# Reference bundles are built in their own environment (tools/bundle-builder: the data packages
# and the numpy/pandas/pyarrow they need), which is only set up when a bundle is missing.
BUNDLE_BUILDER := uv run --frozen --project tools/bundle-builder anntools

bundles: ## build the GRCh37 and GRCh38 reference bundles into the cache (once; ~5 min)
	@uv run --no-sync anntools bundle ensure --build GRCh37 --build GRCh38 --builder "$(BUNDLE_BUILDER)"

web: bootstrap services/web/dist/index.html ## build the web app into services/web/dist (the gateway serves it at /)

# Rebuilt only when a source changed, so a warm `make dev` does not wait for Vite.
WEB_SOURCES := $(shell find services/web/src services/web/public -type f 2>/dev/null) \
	$(wildcard services/web/index.html services/web/*.json services/web/vite.config.ts)
services/web/dist/index.html: $(WEB_SOURCES)
	@echo "building the web app (services/web/dist)"
	@cd services/web && npm run --silent build
	@touch $@

web-dev: ## the web app with hot reload on :5173, its API calls sent to a running `make dev`
	@cd services/web && npx vite --host 127.0.0.1

dev: bootstrap bundles web ## start the whole stack on embedded defaults (Ctrl-C stops it)
	@uv run --no-sync python scripts/devstack.py

test: bootstrap bundles ## install what the tests need and run unit + integration tests
	@scripts/run-tests.sh $(ARGS)

soak: bootstrap bundles ## the fault and load suite (burst, SIGKILLs, PostgreSQL restart, starvation; ~10 min)
	@uv run --no-sync pytest tests/soak $(ARGS)

lint: ## ruff lint and format check
	@uv run --no-sync ruff check . && uv run --no-sync ruff format --check .

# The Python packages are the folders with a pyproject.toml (services/web is TypeScript).
PYTHON_SOURCES := $(patsubst %/pyproject.toml,%/src,$(wildcard libs/*/pyproject.toml services/*/pyproject.toml tests/support/pyproject.toml))

typecheck: ## mypy over the Python packages
	@uv run --no-sync mypy $(PYTHON_SOURCES)

format: ## apply ruff formatting and safe fixes
	@uv run --no-sync ruff check --fix . && uv run --no-sync ruff format .

images: ## build every service image with podman (Debian-made base, cached) and print sizes
	@scripts/images.sh

k8s-smoke: images ## run the chart's Deployments with podman play kube and push one real VCF through them
	@uv run --no-sync python scripts/k8s_smoke.py
