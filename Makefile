# The two set-up commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint typecheck import-tree demo bench clean

# The example third-party provider (examples/generic_json_store) is installed like any
# plugin distribution, so the suite runs the conformance kit against it.
$(BIN)/.installed: pyproject.toml requirements.lock examples/generic_json_store/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[test]" -e examples/generic_json_store
	touch $@

install: $(BIN)/.installed

# Migrates ./var/storeflow.db, seeds a demo company, prints the admin key and URLs,
# then runs the web server and a Huey consumer together until Ctrl-C.
run: install
	$(BIN)/storeflow dev

# lint-imports finds a package's modules under its own folder, but the editable install
# maps storeflow.core, ... to other folders (package-dir): it reads a tree of links that
# puts them under storeflow/, as the wheel does.
IMPORT_TREE := build/import-tree

import-tree:
	rm -rf $(IMPORT_TREE) && mkdir -p $(IMPORT_TREE)/storeflow
	for f in storeflow/*.py; do ln -s $(CURDIR)/$$f $(IMPORT_TREE)/$$f; done
	for d in core rules web providers; do ln -s $(CURDIR)/$$d $(IMPORT_TREE)/storeflow/$$d; done

lint: install import-tree
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd $(IMPORT_TREE) && $(CURDIR)/$(BIN)/lint-imports --no-logo $(CURDIR)/pyproject.toml

# mypy cannot follow package-dir either: it reads the same tree of links.
typecheck: install import-tree
	MYPYPATH=$(IMPORT_TREE) $(BIN)/mypy -p storeflow

# Lint, the layer contract, the type checker, then the whole suite (SQLite; Chromium
# tests run when /usr/bin/chromium exists).
test: lint typecheck
	$(BIN)/python -m pytest -q

# Replays a scripted WooCommerce store against the service started by `make run`.
demo: install
	$(BIN)/storeflow demo

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var build .pytest_cache .ruff_cache .mypy_cache .hypothesis
