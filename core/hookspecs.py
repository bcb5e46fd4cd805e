"""Every hook storeflow calls. Plugins implement them with ``core.hookimpl``.

Built-in providers and actions are plugins too, registered through the same
entry-point groups as third-party ones (``storeflow.providers``, ``storeflow.plugins``).
Each hook is documented in ``docs/plugin_hooks.md`` and tested in ``tests/test_hooks.py``.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("storeflow")
hookimpl = pluggy.HookimplMarker("storeflow")


@hookspec
def register_providers() -> list[Any]:
    """Return store provider objects implementing ``storeflow.core.stores.provider.Provider``."""


@hookspec
def register_actions() -> list[Any]:
    """Return sequence step actions implementing ``storeflow.rules.actions.Action``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``storeflow`` command group."""


@hookspec
def register_blueprints(app: Any) -> None:
    """Register Flask blueprints (extra routes) on the app being built."""


@hookspec
def job_started(kind: str, job_id: int, attempt: int) -> None:
    """Called in the worker right after a job is claimed, before its work runs."""
