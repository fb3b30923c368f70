# POSIX make. The stamp in .venv marks an install of the current pyproject.toml.
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: run test lint fmt

run: $(STAMP)
	$(BIN)/flowcentre up

test: lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy flowcentre streams producers tests

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(STAMP): pyproject.toml
	test -x $(BIN)/pip || python3 -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)
