"""The built-in Commerce API provider (``api``) against the provider conformance kit.

Its pushes are authenticated by the company API key in the web layer, so the kit's
signature checks are skipped with that reason; ``receive`` names the delivery the
way ``storeflow.web.commerce_api`` does.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from storeflow import Provider, Verified, money
from storeflow.providers.commerce_api.plugin import TOPIC_HEADER, CommerceApiProvider
from storeflow.testing import ProviderConformance, Recording, Unsupported, unsupported


class TestCommerceApiKit(ProviderConformance):
    entry_point = "api"
    optional_order_fields = (
        "orderNumber",
        "status",
        "orderedAt",
        "customer.externalId",
        "customer.firstName",
        "customer.lastName",
        "items.variantId",
        "items.priceCents",
        "items.sku",
        "properties",
    )

    @pytest.fixture
    def provider(self) -> CommerceApiProvider:
        return CommerceApiProvider()

    @pytest.fixture
    def secret(self) -> str:
        return "unused: the company API key authenticates pushes"

    @pytest.fixture
    def settings_case(self) -> Unsupported:
        return unsupported(
            "the Commerce API integration has no settings: the company's first push creates it"
        )

    @pytest.fixture
    def signatures(self) -> Unsupported:
        return unsupported(
            "Commerce API pushes are authenticated by the company API key in the web "
            "layer (tests/test_commerce_api.py), not by a signature"
        )

    @pytest.fixture
    def recordings(self, secret: str) -> list[Recording]:
        when = datetime.fromisoformat("2026-03-02T09:00:00+00:00")
        order = self.order_document(
            order_id="A-1", total=Decimal("19.99"), currency="EUR", modified_at=when
        )
        product = self.product_document(product_id="sku-1", title="Mug", modified_at=when)
        variable = {
            "products": [
                {
                    "productId": "tee",
                    "title": "Tee",
                    "currency": "EUR",
                    "updatedAt": when.isoformat(),
                    "variants": [
                        {"variantId": "tee-s", "title": "S", "priceCents": 1500, "inStock": True},
                        {"variantId": "tee-m", "title": "M", "priceCents": 1500, "inStock": False},
                    ],
                }
            ]
        }
        return [
            self.deliver(*order, secret),
            self.deliver(*product, secret),
            self.deliver("products", variable, secret),
        ]

    def receive(self, provider: Provider, recording: Recording, secret: str) -> Verified:
        assert isinstance(provider, CommerceApiProvider)
        return provider.verified(recording.headers[TOPIC_HEADER], recording.body)

    def order_document(
        self, *, order_id: str, total: Decimal, currency: str, modified_at: datetime
    ) -> tuple[str, Any]:
        cents = int(total.scaleb(_places(currency)))
        return "orders", {
            "orderId": order_id,
            "orderNumber": f"#{order_id}",
            "status": "placed",
            "totalCents": cents,
            "currency": currency,
            "orderedAt": modified_at.isoformat(),
            "updatedAt": modified_at.isoformat(),
            "customer": {"email": "ada@example.com", "externalId": "c-1", "firstName": "Ada"},
            "items": [{"productId": "sku-1", "title": "Mug", "quantity": 1, "priceCents": cents}],
            "properties": {"channel": "app"},
        }

    def product_document(
        self, *, product_id: str, title: str, modified_at: datetime
    ) -> tuple[str, Any]:
        return "products", {
            "products": [
                {
                    "productId": product_id,
                    "title": title,
                    "priceCents": 950,
                    "currency": "EUR",
                    "imageUrl": "https://cdn.example.com/mug.png",
                    "inStock": True,
                    "updatedAt": modified_at.isoformat(),
                }
            ]
        }

    def deliver(self, topic: str, document: Any, secret: str) -> Recording:
        body = json.dumps(document).encode()
        return Recording(f"{topic} push", {TOPIC_HEADER: topic}, body)


def _places(currency: str) -> int:
    return money.exponent(currency)
