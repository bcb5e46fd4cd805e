"""The built-in Shopify provider against the provider conformance kit."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from storeflow import money
from storeflow.providers.shopify.plugin import ShopifyProvider
from storeflow.testing import ProviderConformance, Recording, Unsupported, unsupported
from tests.providers import shopify_payloads as fx

SHOP_OFFSET = timezone(timedelta(hours=-5))


def _shop_time(when: datetime) -> str:
    return when.astimezone(SHOP_OFFSET).isoformat(timespec="seconds")


def _amount(value: Decimal, currency: str) -> str:
    return f"{value:.{money.exponent(currency)}f}"


class TestShopifyKit(ProviderConformance):
    entry_point = "shopify"
    optional_order_fields = (
        "phone",
        "customer",
        "billing_address",
        "shipping_address",
        "note_attributes",
        "line_items.sku",
        "line_items.variant_title",
        "processed_at",
        "contact_email",
    )

    @pytest.fixture
    def provider(self) -> ShopifyProvider:
        return ShopifyProvider()

    @pytest.fixture
    def secret(self) -> str:
        return fx.SECRET

    @pytest.fixture
    def settings_case(self) -> Unsupported:
        return unsupported("Shopify integrations have no provider settings: OAuth connects them")

    @pytest.fixture
    def recordings(self, secret: str) -> list[Recording]:
        order = fx.order()
        refunded = fx.order(
            financial_status="partially_refunded", updated_at="2026-03-02T07:00:01-05:00"
        )
        refunded["refunds"] = [fx.refund()]
        return [
            self.deliver("orders/create", order, secret),
            self.deliver("orders/updated", refunded, secret),
            self.deliver("refunds/create", fx.refund(), secret),
            self.deliver("products/create", fx.product(fx.variant(quantity=4)), secret),
            self.deliver("products/delete", {"id": fx.PRODUCT_ID}, secret),
            self.deliver("inventory_levels/update", fx.inventory_level(3), secret),
            self.deliver("checkouts/create", fx.checkout(email=None), secret),
            self.deliver("carts/create", fx.cart(fx.cart_line()), secret),
            self.deliver("customers/create", fx.customer(), secret),
            self.deliver("customers/data_request", fx.data_request(), secret),
        ]

    def order_document(
        self, *, order_id: str, total: Decimal, currency: str, modified_at: datetime
    ) -> tuple[str, Any]:
        amount = _amount(total, currency)
        line = fx.line_item(price=amount, quantity=1, total_discount="0")
        document = fx.order(
            id=int(order_id),
            currency=currency,
            total_price=amount,
            subtotal_price=amount,
            line_items=[line],
            updated_at=_shop_time(modified_at),
        )
        return "orders/create", document

    def product_document(
        self, *, product_id: str, title: str, modified_at: datetime
    ) -> tuple[str, Any]:
        return "products/update", fx.product(
            id=int(product_id), title=title, updated_at=_shop_time(modified_at)
        )

    def deliver(self, topic: str, document: Any, secret: str) -> Recording:
        body = fx.dumps(document)
        return Recording(name=topic, headers=fx.headers(topic, body, secret=secret), body=body)
