"""The interface every store provider implements, and what it is handed.

A provider is registered through the ``register_providers`` hook (see
``core/hookspecs.py``). It verifies inbound requests, parses and validates their
payloads, and maps them into ``storeflow.core.commerce.records``. It never touches the database, never
defines tasks or tables: core services apply what it returns.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import attrs

from storeflow.core.commerce.records import Mapped


@attrs.frozen
class WebhookRequest:
    """The parts of an HTTP request a provider may look at. Header names are lower-case."""

    headers: dict[str, str]
    body: bytes
    content_type: str = ""


@attrs.frozen
class Verified:
    """A provider's verdict on an authentic webhook request."""

    kind: str  # "ping" (answer 200, store nothing) or "delivery"
    topic: str = ""
    # Stable across re-sends of the same delivery; unique per integration.
    dedupe_key: str = ""
    # Headers worth keeping with the stored delivery (topic, ids, source).
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class StoreContext:
    """What a provider knows about the store a delivery came from."""

    integration_id: str
    company_id: int
    store_url: str = ""
    currency: str = "USD"
    timezone: str = "UTC"


@runtime_checkable
class Provider(Protocol):
    name: str

    def verify_webhook(self, request: WebhookRequest, secret: str) -> Verified:
        """Check the request's signature with ``secret`` (raise ``Unauthenticated``)."""

    def parse_payload(self, topic: str, body: bytes) -> Any:
        """Decode and validate a webhook body (raise ``BadRequest``/``ValidationFailed``)."""

    def map_webhook(self, topic: str, payload: Any, store: StoreContext) -> Mapped:
        """Turn a validated webhook payload into records (raise ``Unmappable``)."""

    def map_sync_item(self, resource: str, item: Any, store: StoreContext) -> Mapped:
        """Turn one item of a sync batch (``products``, ``customers``, ``orders``) into records."""
