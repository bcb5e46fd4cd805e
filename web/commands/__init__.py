"""The ``storeflow`` command's groups, one module per area; ``storeflow.web.cli`` assembles them.

What every command shares lives here: the invocation's runtime and the first-run step.
The names are private to the package (its modules import them; nothing else should).
"""

from __future__ import annotations

import click

from storeflow.core import config
from storeflow.core.runtime import Runtime

_RUNTIME = "storeflow.runtime"


def _runtime() -> Runtime:
    """The invocation's runtime: the one handed in as ``obj`` (tests, embedding), or one
    built from the environment on first use and closed when the command ends."""
    root = click.get_current_context().find_root()
    if isinstance(root.obj, Runtime):
        return root.obj
    found = root.meta.get(_RUNTIME)
    if found is None:
        found = root.meta[_RUNTIME] = Runtime.build(config.load())
        root.call_on_close(found.close)
    return found


def _prepare(settings: config.Settings) -> config.Settings:
    """The explicit first-run step: the var dir and, unless configured, the session key."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return config.ensure_secret_key(settings)
