"""storeflow: store traffic in, commerce events and sequences out.

This module is the public surface for plugin authors. A provider or an action
plugin imports from here, never from the packages below, which may move::

    from storeflow import hookimpl, Provider, WebhookRequest, Verified, records

``normalize_email`` is how storeflow stores and compares email addresses (trimmed,
lower-cased); ``usable_email`` also turns what cannot be an address into ``None``.

``parse_json`` decodes a body the way every route does (strict UTF-8, no ``NaN``,
at most 64 levels of nesting; a ``BadRequest`` otherwise): use it for webhook
bodies, so that a hostile document is a failed delivery and not a crash.

``plugin_client`` signs requests the way a store plugin does, to test a plugin
against a local storeflow.

The packages themselves live under this name too: ``storeflow.core`` (the
provider-agnostic domain), ``storeflow.rules`` (sequences), ``storeflow.web``
(the Flask app and the CLI) and ``storeflow.providers`` (the built-in providers).
"""

from storeflow.core import errors
from storeflow.core.commerce import money, records
from storeflow.core.commerce.money import Money, MoneyError
from storeflow.core.commerce.records import (
    Customer,
    CustomerDeleted,
    EventName,
    Ignored,
    LineItem,
    Mapped,
    Order,
    OrderDeleted,
    OrderStatus,
    Product,
    ProductDeleted,
    Refund,
    Variant,
)
from storeflow.core.emails import normalize_email, usable_email
from storeflow.core.errors import BadRequest, Unauthenticated, Unmappable, ValidationFailed
from storeflow.core.hookspecs import hookimpl
from storeflow.core.jsonparse import parse_json
from storeflow.core.stores.provider import Provider, StoreContext, Verified, WebhookRequest
from storeflow.core.testing import plugin_client

__all__ = [
    "BadRequest",
    "Customer",
    "CustomerDeleted",
    "EventName",
    "Ignored",
    "LineItem",
    "Mapped",
    "Money",
    "MoneyError",
    "Order",
    "OrderDeleted",
    "OrderStatus",
    "Product",
    "ProductDeleted",
    "Provider",
    "Refund",
    "StoreContext",
    "Unauthenticated",
    "Unmappable",
    "ValidationFailed",
    "Variant",
    "Verified",
    "WebhookRequest",
    "errors",
    "hookimpl",
    "money",
    "normalize_email",
    "parse_json",
    "plugin_client",
    "records",
    "usable_email",
]
