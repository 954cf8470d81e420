# make serve: set up .venv and serve the mock on 127.0.0.1:$(PORT) with the embedded defaults.
# make test:  set up .venv and run lint, type checks and every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# PORT and HOST are passed on only when set (make serve PORT=9000, or in the environment);
# otherwise the mock's own defaults, config file and ENGAGELAB_MOCK_* variables decide (127.0.0.1:8080).
STAMP  := $(VENV)/.installed

.PHONY: serve test lint typecheck unit openapi bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/engagelab-mock serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

lint: $(STAMP)
	$(BIN)/ruff check spec mock_server contract_tests tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest contract_tests -q -p no:cacheprovider

test: lint typecheck unit

openapi: $(STAMP)
	$(BIN)/python -m spec.openapi --output spec/openapi.json

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
