"""storeflow: store traffic in, commerce events and sequences out.

This module is the public surface for plugin authors. A provider or an action
plugin imports from here, never from the packages below, which may move::

    from storeflow import hookimpl, Provider, WebhookRequest, Verified, records

The packages themselves live under this name too: ``storeflow.core`` (the
provider-agnostic domain), ``storeflow.rules`` (sequences), ``storeflow.web``
(the Flask app and the CLI) and ``storeflow.providers`` (the built-in providers).
"""

from storeflow.core import errors
from storeflow.core.commerce import money, records
from storeflow.core.commerce.records import Ignored, Mapped
from storeflow.core.errors import Unauthenticated, Unmappable, ValidationFailed
from storeflow.core.hookspecs import hookimpl
from storeflow.core.stores.provider import Provider, StoreContext, Verified, WebhookRequest

__all__ = [
    "Ignored",
    "Mapped",
    "Provider",
    "StoreContext",
    "Unauthenticated",
    "Unmappable",
    "ValidationFailed",
    "Verified",
    "WebhookRequest",
    "errors",
    "hookimpl",
    "money",
    "records",
]
