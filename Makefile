# The commands the README names. Everything installs from the project's own files.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help bootstrap bundles dev test lint typecheck format images k8s-smoke

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install Debian packages, uv, the Python workspace and npm packages
	@scripts/bootstrap.sh

bundles: ## build the GRCh37 and GRCh38 reference bundles into the cache (once; ~1 min)
	@uv run --no-sync python -c "import anntools; [print('reference bundle ready:', anntools.ensure_bundle(b)) for b in ('GRCh37', 'GRCh38')]"

dev: bootstrap bundles ## start the whole stack on embedded defaults (Ctrl-C stops it)
	@uv run --no-sync python scripts/devstack.py

test: bootstrap ## install what the tests need and run unit + integration tests
	@scripts/run-tests.sh $(ARGS)

lint: ## ruff lint and format check
	@uv run --no-sync ruff check . && uv run --no-sync ruff format --check .

typecheck: ## mypy over the Python packages
	@uv run --no-sync mypy $(wildcard libs/*/src services/*/src)

format: ## apply ruff formatting and safe fixes
	@uv run --no-sync ruff check --fix . && uv run --no-sync ruff format .

images: ## build every service image with podman (Debian-made base, cached) and print sizes
	@scripts/images.sh

k8s-smoke: images ## run the chart's Deployments with podman play kube and push one real VCF through them
	@uv run --no-sync python scripts/k8s_smoke.py
