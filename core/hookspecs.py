"""Every hook storeflow calls. Plugins implement them with ``storeflow.hookimpl``.

Built-in features are plugins too: core's own job kinds and sweeps
(``storeflow.core.builtins``), the rules engine and its actions, and the
providers, registered through the same entry-point groups as third-party ones
(``storeflow.providers``, ``storeflow.plugins``). Each hook is documented in
``docs/plugin_hooks.md`` and tested in ``tests/test_hooks.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Flask

    from storeflow.core.commerce.consumers import EventConsumer
    from storeflow.core.stores.provider import Provider
    from storeflow.core.work.jobs import AnyKind, Sweep

hookspec = pluggy.HookspecMarker("storeflow")
hookimpl = pluggy.HookimplMarker("storeflow")

# A hookspec only declares its hook: pluggy never calls it, so the bodies that must
# return something raise instead.


@hookspec
def register_providers() -> list[Provider]:
    """Return store provider objects implementing ``storeflow.Provider``."""
    raise NotImplementedError


@hookspec
def register_actions() -> list[object]:
    """Return sequence step actions implementing ``storeflow.rules.actions.Action``."""
    raise NotImplementedError


@hookspec
def register_job_kinds() -> list[AnyKind]:
    """Return job kinds (``JobKind`` or ``EffectKind``) the worker can run, by unique name."""
    raise NotImplementedError


@hookspec
def register_sweeps() -> list[Sweep]:
    """Return periodic sweeps (``Sweep(name, run)``) the sweeper runs in its transaction."""
    raise NotImplementedError


@hookspec
def register_event_consumers() -> list[EventConsumer]:
    """Return consumers that react to every live commerce event (``on_event``)."""
    raise NotImplementedError


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``storeflow`` command group."""


@hookspec
def register_blueprints(app: Flask) -> None:
    """Register Flask blueprints (extra routes) on the app being built."""


@hookspec
def job_started(kind: str, job_id: int, attempt: int) -> None:
    """Called in the worker right after a job is claimed, before its work runs."""
