"""Plugin manager factory: core's built-ins, entry points, and explicitly named modules.

A factory rather than a global so that every app, worker and test builds its own
manager. Core's own job kinds and sweeps (``storeflow.core.builtins``) are always
registered. Providers (built-in or third-party) arrive through the
``storeflow.providers`` entry-point group; other plugins, the rules engine and its
actions among them, through ``storeflow.plugins``; ``STOREFLOW_PLUGINS`` names
extra modules to import and register (comma-separated), for one-off local plugins.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import pluggy

from storeflow.core import hookspecs
from storeflow.core.stores.provider import Provider

ENTRY_POINT_GROUPS = ("storeflow.providers", "storeflow.plugins")
# Core's own features, registered like any plugin. Everything above core (the rules
# engine, actions, providers) arrives through entry points, so core names none of it.
DEFAULT_PLUGINS = ("storeflow.core.builtins",)


class PluginError(RuntimeError):
    pass


def build_plugin_manager(
    *, load_entrypoints: bool = True, extra: Iterable[str | object] = ()
) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("storeflow")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        _register_module(pm, name)
    if load_entrypoints:
        for group in ENTRY_POINT_GROUPS:
            try:
                pm.load_setuptools_entrypoints(group)
            except Exception as exc:  # report which plugin broke, not a bare traceback
                raise PluginError(f"loading entry points of {group!r} failed: {exc}") from exc
    for item in extra:
        if isinstance(item, str):
            _register_module(pm, item)
        elif not pm.is_registered(item):
            pm.register(item)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements unknown hooks: {exc}") from exc
    return pm


def _register_module(pm: pluggy.PluginManager, dotted: str) -> None:
    if pm.get_plugin(dotted) is not None:
        return
    try:
        module = importlib.import_module(dotted)
    except ImportError as exc:
        raise PluginError(f"cannot import plugin module {dotted!r}: {exc}") from exc
    if not pm.is_registered(module):
        pm.register(module, name=dotted)


def providers(pm: pluggy.PluginManager) -> dict[str, Provider]:
    """Providers by name; a name registered twice is an error worth failing loudly on."""
    found: dict[str, Provider] = {}
    for batch in pm.hook.register_providers():
        for provider in batch or ():
            if provider.name in found:
                raise PluginError(f"two providers are named {provider.name!r}")
            found[provider.name] = provider
    return found


def describe(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Name, distribution version and implemented hooks of each plugin (``storeflow plugins``)."""
    versions = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: str(item[0])):
        dist = versions.get(id(plugin))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        out.append(
            {
                "name": name,
                "module": getattr(plugin, "__name__", None),
                "version": getattr(dist, "version", None) if dist else None,
                "hooks": hooks,
            }
        )
    return out
