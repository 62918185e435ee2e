# Campo: field-visit marketplace for collections. `make help` lists the targets.

SHELL := /bin/bash
UV ?= uv
UV_VERSION := 0.13.9
PYTEST_ARGS ?=

include Makefile.infra

.DEFAULT_GOAL := help
.PHONY: help env migrate demo test test-unit bench-ingest bench-marketplace bench-reporting bench-visits lint format portfolio

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-18s %s\n", $$1, $$2}'

env: ## Install uv when missing and the locked Python environment into .venv
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen

# Commands that reach the servers run with the variables `infra.sh env` prints,
# so a moved port (CAMPO_PG_PORT, CAMPO_KAFKA_PORT) reaches them too.
SERVER_ENV = eval "$$(bash $(CAMPO_INFRA_SCRIPT) env)" &&

migrate: env infra ## Apply every service's migrations to DATABASE_URL
	$(SERVER_ENV) $(UV) run campo-admin migrate

demo: env infra ## Run the main job end to end: upload, launch, visits, webhooks, summary
	$(SERVER_ENV) $(UV) run python -m ops.demo

test: env infra ## Run unit, integration and end-to-end tests on real PostgreSQL and Kafka
	$(UV) run pytest $(PYTEST_ARGS)

test-unit: env ## Run only the unit tests (no servers needed)
	$(UV) run pytest tests/unit $(PYTEST_ARGS)

bench-ingest: env infra ## Time ingest's upload path against COPY and openpyxl (not a test)
	$(SERVER_ENV) $(UV) run --group bench python -m bench.ingest

bench-reporting: env infra ## Time visit results to webhooks and SSE at 200/s (not a test)
	$(SERVER_ENV) $(UV) run python -m bench.reporting

bench-marketplace: env ## Simulate dispatch in a real city, batched vs greedy (not a test)
	$(UV) run --group bench python -m bench.marketplace

bench-visits: env infra ## Drive visits' check-ins and results at rising rates against a ceiling (not a test)
	$(SERVER_ENV) $(UV) run python -m bench.visits

lint: env ## Check formatting and lint with ruff
	$(UV) run ruff format --check .
	$(UV) run ruff check .

format: env ## Format and fix lint with ruff
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

portfolio: env ## Regenerate examples/portfolio.xlsx and examples/agents.json
	$(UV) run python examples/make_portfolio.py
