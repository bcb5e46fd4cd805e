"""STOREFLOW_MAIL_FROM is checked when a process starts, not when its first email is built.

Before, a list or a line break in it surfaced only at send time, as a failed message
per email, while the worker looked healthy.
"""

from __future__ import annotations

import attrs
import pytest
from click.testing import CliRunner

from storeflow.core import config
from storeflow.core.runtime import Runtime
from storeflow.web.cli import cli

BAD = ["a@example.com, b@example.com", "shop@example.com\r\nBcc: x@example.com", "shop", " "]


@pytest.mark.parametrize("sender", BAD)
def test_a_runtime_refuses_an_unusable_sender(settings, sender):
    with pytest.raises(config.ConfigError) as exc:
        Runtime.build(attrs.evolve(settings, mail_from=sender))
    assert "STOREFLOW_MAIL_FROM" in str(exc.value)
    assert "not one valid sender address" in str(exc.value)


@pytest.mark.parametrize("sender", ["Shop <shop@example.com>", "storeflow@localhost"])
def test_usable_senders_start(settings, sender):
    Runtime.build(attrs.evolve(settings, mail_from=sender)).close()


def test_the_cli_says_it_in_one_line(tmp_path):
    env = {
        "STOREFLOW_VAR_DIR": str(tmp_path),
        "STOREFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "STOREFLOW_MAIL_FROM": "a@example.com, b@example.com",
    }
    result = CliRunner().invoke(cli, ["companies", "list"], env=env)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: STOREFLOW_MAIL_FROM="), result.output
    assert "Traceback" not in result.output
