"""The generic JSON store against storeflow's provider conformance kit."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from storeflow_generic_json.plugin import GenericJsonProvider

from storeflow.testing import ProviderConformance, Recording, SettingsCase

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class TestGenericJsonStoreKit(ProviderConformance):
    entry_point = "generic_json"
    optional_order_fields = ("number", "firstName", "lastName", "createdAt", "items.variantId")

    @pytest.fixture
    def provider(self) -> GenericJsonProvider:
        return GenericJsonProvider()

    @pytest.fixture
    def secret(self) -> str:
        return SECRET

    @pytest.fixture
    def settings_case(self) -> SettingsCase:
        return SettingsCase(
            valid={"signingSecret": SECRET, "currency": "eur"},
            invalid={"signingSecret": "hunter2"},
            invalid_path="$.signingSecret",
        )

    @pytest.fixture
    def recordings(self, secret: str) -> list[Recording]:
        when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        order = self.order_document(
            order_id="501", total=Decimal("42.10"), currency="EUR", modified_at=when
        )
        product = self.product_document(product_id="77", title="Mug", modified_at=when)
        return [self.deliver(*order, secret), self.deliver(*product, secret)]

    def order_document(
        self, *, order_id: str, total: Decimal, currency: str, modified_at: datetime
    ) -> tuple[str, Any]:
        return "order.created", {
            "id": int(order_id),
            "number": f"#{order_id}",
            "status": "placed",
            "currency": currency,
            "total": str(total),
            "email": "ada@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "createdAt": modified_at.isoformat(),
            "updatedAt": modified_at.isoformat(),
            "items": [
                {
                    "productId": 77,
                    "variantId": 77,
                    "title": "Mug",
                    "quantity": 1,
                    "price": str(total),
                }
            ],
        }

    def product_document(
        self, *, product_id: str, title: str, modified_at: datetime
    ) -> tuple[str, Any]:
        return "product.updated", {
            "id": int(product_id),
            "title": title,
            "price": "9.50",
            "imageUrl": "https://cdn.example.com/mug.png",
            "inStock": True,
            "updatedAt": modified_at.isoformat(),
        }

    def deliver(self, topic: str, document: Any, secret: str) -> Recording:
        body = json.dumps(
            {"type": topic, "timestamp": "2026-03-02T09:00:00Z", "data": document}
        ).encode()
        msg_id = f"msg_{uuid.uuid5(uuid.NAMESPACE_URL, body.decode()).hex}"
        when = datetime.now(UTC)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
        }
        return Recording(f"{topic} {document['id']}", headers, body)
