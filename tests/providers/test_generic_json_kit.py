"""The example third-party distribution (examples/generic_json_store) passes the kit.

Its own test module is the one a third party would run; this collects it into
storeflow's suite, so `make test` and `.ci/run` run it against the installed
distribution (installed by `make install` like any plugin: entry point, no path hacks).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE_TESTS = (
    Path(__file__).parents[2] / "examples" / "generic_json_store" / "tests" / "test_kit.py"
)

_spec = importlib.util.spec_from_file_location("generic_json_store_kit", EXAMPLE_TESTS)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

TestGenericJsonStoreKit = _module.TestGenericJsonStoreKit
