# make serve: set up .venv and serve the mock on 127.0.0.1:$(PORT) with the embedded defaults.
# make test:  set up .venv and run lint, type checks and every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# PORT and HOST are passed on only when set (make serve PORT=9000, or in the environment);
# otherwise the mock's own defaults, config file and ENGAGELAB_MOCK_* variables decide (127.0.0.1:8080).
STAMP  := $(VENV)/.installed

.PHONY: serve test lint typecheck unit openapi bench clean lock settings-table reliability

PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Our own builds are reproducible: every dependency comes from the hashed lock file; the kit
# itself is installed editable on top, without resolving again (its ranges are for users).
$(STAMP): pyproject.toml requirements/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements/dev.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Regenerate the lock after changing the ranges in pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 \
		--quiet -o requirements/dev.lock

serve: $(STAMP)
	$(BIN)/engagelab-mock serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

lint: $(STAMP)
	$(BIN)/ruff check spec mock_server contract_tests tests bench examples reliability

# mypy finds the packages under their installed names through a tree of links to the folders.
TYPED  := build/typecheck/engagelab_kit
typecheck: $(STAMP)
	mkdir -p $(TYPED)
	for p in spec mock_server contract_tests; do ln -sfn "$(CURDIR)/$$p" $(TYPED)/$$p; done
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest contract_tests -q -p no:cacheprovider

test: lint typecheck unit

openapi: $(STAMP)
	$(BIN)/python -m engagelab_kit.spec.openapi --output spec/openapi.json

# The README's settings table is generated from mock_server/settings_table.py (a test fails when it is stale).
settings-table: $(STAMP)
	$(BIN)/python -m engagelab_kit.mock_server.settings_table README.md

# Reproduce the hardening figures (minutes; bounded) and print a table; see RELIABILITY.md.
# The short version of each runs in `make test` (tests/test_reliability.py).
reliability: $(STAMP)
	$(BIN)/python -m reliability

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/proxy_overhead.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
