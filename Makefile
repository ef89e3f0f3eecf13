# The two commands a new user needs: `make run` and `make test`.
.PHONY: run test lint fmt openapi bench build release fuzz

PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres

run:
	cargo run --release -p ordercrm-server -- serve

build:
	cargo build -p ordercrm-server

release:
	cargo build --release -p ordercrm-server

# Runs every test on SQLite, and on PostgreSQL when DATABASE_URL_PG is set or a
# server answers on 127.0.0.1:5432; says so loudly when it cannot.
test: build
	@if [ -n "$$DATABASE_URL_PG" ]; then \
		echo "== PostgreSQL suite: $$DATABASE_URL_PG"; \
	elif command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then \
		echo "== PostgreSQL suite: local server at 127.0.0.1:5432"; \
	else \
		echo ""; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!!! PostgreSQL not reachable: the PostgreSQL suite is SKIPPED (SQLite only) !!!"; \
		echo "!!! set DATABASE_URL_PG=postgres://user@host:port/db to run it              !!!"; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo ""; \
	fi
	@rm -rf target/debug/status-seen
	cargo test --workspace
	@echo "== every status the black-box suite saw is in the OpenAPI document"
	ORDERCRM_STATUS_COVERAGE=required cargo test -q -p ordercrm-tests --test status_coverage -- --nocapture

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	.ci/check-boundaries

fmt:
	cargo fmt --all

openapi:
	# Through a temporary file: a failed build must not leave an empty document behind.
	cargo run -q -p ordercrm-server -- openapi > openapi/openapi.json.tmp
	mv openapi/openapi.json.tmp openapi/openapi.json
	@echo "openapi/openapi.json regenerated"

bench: release
	cargo run --release -q -p ordercrm-bench -- --binary target/release/ordercrm --pg-url "$(PG_URL)"

# schemathesis against a fresh server (pinned version, fixed seed; FUZZ_SEED=… to vary).
# Downloads schemathesis on first use, so not part of CI: run it before you stop.
fuzz:
	.ci/fuzz
