# Thin wrappers around the standard tools. `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help
VENV := .venv

.PHONY: help run test test-unit test-sam lint fmt bench load fuzz fuzz-cmin mutants build validate invoke invoke-sam start-api deploy smoke schemathesis clean tools docs docs-check

help: ## Every entry point: these targets, the scripts behind them, the admin CLI
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "Scripts (each opens with what it is for; scripts/lib.sh is sourced by the others):"
	@for f in scripts/*; do [ -x "$$f" ] && printf '  %-28s %s\n' "$$f" "$$(sed -n '2{s/^# //;s/^"""//;p;}' "$$f")"; done; true
	@echo "The admin CLI (accounts, keys, conversion types, the importer, erasure):"
	@echo "  cargo run --bin conversions-admin -- --help"

run: ## Serve the API on a local DynamoDB with demo data (PORT=9000 DYNAMODB_PORT=8000)
	@scripts/run.sh

tools: ## Install the pinned local tools (dynalite, Redocly CLI, moto, cfn-lint, cargo-lambda, schemathesis)
	@scripts/tools.sh

test: ## Everything CI checks: fmt, clippy, all tests on dynalite and moto, the stack with schemathesis, the API reference, cfn-lint, the function under SAM in Docker (SKIP_SAM=1 skips it)
	@scripts/test.sh

test-unit: ## The tests that need no server, in seconds: the inner loop
	cargo test --locked --lib --bins --test offline

test-sam: ## The function as SAM builds and runs it, in Docker (arm64 under emulation): every fixture, invoke-sam, start-api (SKIP_SAM=1 skips)
	@scripts/sam.sh test

lint: tools ## Formatting, clippy and the SAM template
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml

fmt: ## Format the code
	cargo fmt --all

bench: tools ## Handler latency; round trips, capacity, cost; the release binary end to end on local dynalite; a callgrind profile. Writes docs/BENCHMARKS.md
	scripts/with-test-servers.sh cargo bench --locked

load: tools ## Many requests at once on dynalite and moto, then the table counted: nothing lost or duplicated (LOAD_REQUESTS=2000)
	LOAD_REQUESTS=$${LOAD_REQUESTS:-2000} scripts/with-test-servers.sh \
		cargo test --locked --test dynamodb load:: -- --nocapture

fuzz: ## Every fuzz target for FUZZ_SECONDS each (default 60), from fuzz/corpus/; needs a nightly toolchain
	@scripts/long-checks.sh fuzz

fuzz-cmin: ## Merge what make fuzz found into fuzz/corpus/, minimised (then commit it)
	@scripts/long-checks.sh fuzz-cmin

mutants: ## cargo mutants over src/domain, src/service.rs, src/service/, src/http with the whole suite; resumes (MUTANTS_SUITE=fast, MUTANTS_FILES=...)
	@scripts/long-checks.sh mutants

build: tools ## Build the function for Lambda (arm64, release) into target/lambda/ (or $$CARGO_TARGET_DIR/lambda/), and prints its size
	@# cargo-lambda finds zig (the cross-linker, from PyPI) through the venv's python.
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo-lambda lambda build --release --arm64 --bin conversions
	@# Where cargo put it: target/, or wherever CARGO_TARGET_DIR (or a cargo config) says.
	@built="$$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/lambda/conversions/bootstrap"; \
		echo "$$built: $$(stat -c %s "$$built") bytes ($$(file -b "$$built" | cut -d, -f1,2))"

validate: tools ## Check template.yaml
	$(VENV)/bin/cfn-lint template.yaml

invoke: ## Send an events/ fixture to the running `make run` (EVENT=events/create-minimal.json)
	$(VENV)/bin/cargo-lambda lambda invoke conversions --invoke-address 127.0.0.1 \
		--invoke-port $${PORT:-9000} --data-file $${EVENT:-events/create-minimal.json}

invoke-sam: ## The same through `sam local invoke`, in Docker, on the `make run` table (EVENT=..., needs Docker)
	@scripts/sam.sh invoke $${EVENT:-events/create-minimal.json}

start-api: ## SAM's API Gateway emulator on 127.0.0.1:$$SAM_PORT (3000), on the `make run` table (needs Docker)
	@scripts/sam.sh start-api

deploy: ## Build and deploy the stack with the SAM CLI: samconfig.toml, no prompts (GUIDED=1: sam deploy --guided); needs AWS credentials
	@scripts/sam.sh deploy

smoke: ## A short end-to-end check of a deployment: make smoke URL=https://... API_KEY=nxr_live_... [LEAD_ID=...]
	@# @ on every line: make would print the command, and with it the key.
	@[ -n "$(URL)" ] && [ -n "$(API_KEY)" ] || { echo "error: make smoke needs URL=<the API's base URL: the stack's ApiUrl output, or http://127.0.0.1:9000 for make run> and API_KEY=nxr_live_..." >&2; exit 2; }
	@API_KEY="$(API_KEY)" LEAD_ID="$(LEAD_ID)" python3 scripts/check-api.py smoke "$(URL)"

schemathesis: tools ## schemathesis on every operation of a running API: make schemathesis URL=https://... API_KEY=nxr_live_...
	@# @ on every line: make would print the command, and with it the key.
	@[ -n "$(URL)" ] && [ -n "$(API_KEY)" ] || { echo "error: make schemathesis needs URL=<the API's base URL> and API_KEY=nxr_live_..." >&2; exit 2; }
	@$(VENV)/bin/python scripts/check-api.py schemathesis "$(URL)" "$(API_KEY)"

docs: tools ## Lint openapi.yaml and render it into one HTML page, build/docs/api.html
	@scripts/docs.sh

docs-check: docs ## Open build/docs/api.html in headless Chromium: every operation and error message shown?
	@scripts/docs.sh check

clean: ## Remove build output and local data
	cargo clean
	rm -rf .local .aws-sam build
