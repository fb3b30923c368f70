# POSIX make. The stamp in .venv marks an install of the current pyproject.toml.
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: run test lint fmt chromium

run: $(STAMP)
	$(BIN)/flowcentre up

test: lint chromium
	$(BIN)/pytest

# The browser tests drive Debian's Chromium, which a fresh machine lacks.
chromium:
	command -v chromium >/dev/null || { \
		if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends chromium; }

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
