"""The conformance kit fails a broken provider, and says why in words.

A variant of the example provider that goes through float for money (the classic
mistake) runs under the kit in a separate pytest process; the run must fail on the
money check with a message naming the amount, the currency and the fix.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLE_TESTS = (
    Path(__file__).parents[1] / "examples" / "generic_json_store" / "tests" / "test_kit.py"
)

BROKEN = """
from decimal import Decimal

import pytest

from storeflow import Money, money
from storeflow_generic_json import plugin
import kit_example


class FloatMoneyProvider(plugin.GenericJsonProvider):
    def map_webhook(self, topic, payload, store):
        mapped = super().map_webhook(topic, payload, store)
        if topic.startswith("order."):
            order = mapped.records[0]
            cents = round(float(payload["total"]), 2)  # drops mils and large amounts
            broken = Money(int(cents * 100), order.currency)
            import attrs
            mapped = attrs.evolve(mapped, records=(attrs.evolve(order, total=broken),))
        return mapped


class TestBroken(kit_example.TestGenericJsonStoreKit):
    @pytest.fixture
    def provider(self):
        return FloatMoneyProvider()


class TestControl(kit_example.TestGenericJsonStoreKit):
    pass
"""


@pytest.mark.slow
def test_kit_fails_a_provider_that_loses_money_precision(tmp_path: Path) -> None:
    (tmp_path / "kit_example.py").write_text(EXAMPLE_TESTS.read_text())
    (tmp_path / "test_broken.py").write_text(textwrap.dedent(BROKEN))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rf",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "test_broken.py",
            "-k",
            "money or every_recording",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    # The control (the same example, unbroken) passes both checks in the same run.
    assert "1 failed, 3 passed" in out, out
    assert "FAILED test_broken.py::TestBroken::test_money_is_exact" in out, out
    assert "money must stay exact" in out
    assert "storeflow.money.parse" in out


def test_shipped_code_never_imports_the_kit_or_pytest() -> None:
    """A plain `pip install storeflow` has no pytest: the app, the worker and the providers
    must run without importing it (only `storeflow.testing` does)."""
    code = (
        "import sys\n"
        "import storeflow, storeflow.web.app, storeflow.web.cli\n"
        "from storeflow.core import plugins\n"
        "plugins.providers(plugins.build_plugin_manager())\n"
        "loaded = sorted(m for m in ('pytest', 'hypothesis', 'storeflow.core.testing.provider_kit')"
        " if m in sys.modules)\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
