"""Test helpers for store sync: plugin credentials on a tenant, signed sync batches."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import attrs
from sqlalchemy import func, select

from storeflow.core import accounts
from storeflow.core.storage.tables import (
    Event,
    Integration,
    OrderLine,
    OrderRow,
    ProductRow,
    Subscriber,
    VariantRow,
)
from storeflow.core.testing import plugin_client
from tests.providers import woocommerce_payloads as fx


@attrs.frozen
class Plugin:
    """A store plugin of one tenant: signs requests with that integration's credentials."""

    client: Any
    token: str
    secret: str

    def post(self, path: str, payload: Any, *, php: bool = False, **options: Any) -> Any:
        body = fx.php_json(payload) if php else plugin_client.encode(payload)
        headers = plugin_client.signed_headers(self.token, self.secret, body, **options)
        return self.client.post(path, data=body, headers=headers)

    def sync(self, resource: str, items: list[dict[str, Any]], **batch: Any) -> Any:
        php = batch.pop("php", False)
        return self.post(
            f"/api/woocommerce/sync/{resource}", fx.sync_batch(items, **batch), php=php
        )

    def ok(self, resource: str, items: list[dict[str, Any]], **batch: Any) -> dict[str, Any]:
        response = self.sync(resource, items, **batch)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


def plugin_for(rt: Any, client: Any, integration_id: str) -> Plugin:
    token = "sfit_" + secrets.token_urlsafe(32)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with rt.unit_of_work() as session:
        row = session.get_one(Integration, integration_id)
        row.installation_token_hash = accounts.hash_token(token)
        row.signing_secret = secret
    return Plugin(client, token, secret)


def counts(rt: Any, company_id: int) -> dict[str, int]:
    with rt.unit_of_work() as session:

        def n(model: Any) -> int:
            return session.scalar(
                select(func.count()).select_from(model).where(model.company_id == company_id)
            )

        return {
            "products": n(ProductRow),
            "variants": n(VariantRow),
            "subscribers": n(Subscriber),
            "orders": n(OrderRow),
            "lines": n(OrderLine),
            "events": n(Event),
        }


def live_events(rt: Any, company_id: int) -> list[tuple[str, str]]:
    with rt.unit_of_work() as session:
        return [
            (name, key)
            for name, key in session.execute(
                select(Event.name, Event.idempotency_key)
                .where(Event.company_id == company_id, Event.live.is_(True))
                .order_by(Event.id)
            )
        ]
