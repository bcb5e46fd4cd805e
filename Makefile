# The two set-up commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint demo bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(BIN)/.installed

# Migrates ./var/storeflow.db, seeds a demo company, prints the admin key and URLs,
# then runs the web server and a Huey consumer together until Ctrl-C.
run: install
	$(BIN)/storeflow dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The whole suite (SQLite; Chromium tests run when /usr/bin/chromium exists).
test: lint
	$(BIN)/python -m pytest -q

# Replays a scripted WooCommerce store against the service started by `make run`.
demo: install
	$(BIN)/storeflow demo

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
