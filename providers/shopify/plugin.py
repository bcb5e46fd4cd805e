"""Shopify provider plugin (registered; the provider itself lands in its own issue).

It is loaded through the ``storeflow.providers`` entry point like any provider, so
the plugin path is exercised from day one; it contributes no provider yet.
"""

from __future__ import annotations

from typing import Any

from storeflow import hookimpl


@hookimpl
def register_providers() -> list[Any]:
    return []
