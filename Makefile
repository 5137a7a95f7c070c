# Thin wrappers around the standard tools. `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help
VENV := .venv

.PHONY: help test lint fmt build validate deploy clean tools

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

tools: ## Install the pinned local tools (dynalite, moto, cfn-lint, cargo-lambda)
	@scripts/tools.sh

test: ## Everything CI checks: fmt, clippy, all tests on dynalite and moto, cfn-lint
	@scripts/test.sh

lint: tools ## Formatting, clippy and the SAM template
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml

fmt: ## Format the code
	cargo fmt --all

build: tools ## Build the function for Lambda (arm64, release) into target/lambda/
	$(VENV)/bin/cargo-lambda lambda build --release --arm64 --bin conversions

validate: tools ## Check template.yaml
	$(VENV)/bin/cfn-lint template.yaml

deploy: ## Build and deploy with the AWS SAM CLI (needs sam and AWS credentials)
	sam build && sam deploy --guided

clean: ## Remove build output and local data
	cargo clean
	rm -rf .local .aws-sam
