"""The built-in WooCommerce provider against the provider conformance kit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from storeflow.providers.woocommerce import samples
from storeflow.providers.woocommerce.plugin import WooCommerceProvider
from storeflow.testing import ProviderConformance, Recording, Unsupported, unsupported

SECRET = "wc-kit-secret-0123456789abcdefABCD"


def _gmt(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")


class TestWooCommerceKit(ProviderConformance):
    entry_point = "woocommerce"
    optional_order_fields = (
        "shipping",
        "billing.phone",
        "customer_note",
        "payment_method_title",
        "line_items.sku",
        "line_items.meta_data",
        "date_paid_gmt",
    )

    @pytest.fixture
    def provider(self) -> WooCommerceProvider:
        return WooCommerceProvider()

    @pytest.fixture
    def secret(self) -> str:
        return SECRET

    @pytest.fixture
    def settings_case(self) -> Unsupported:
        return unsupported(
            "WooCommerce integrations have no provider settings: connecting sets their secret"
        )

    @pytest.fixture
    def recordings(self, secret: str) -> list[Recording]:
        return [
            self.deliver("order.created", samples.order(), secret),
            self.deliver("order.updated", samples.order(status="completed"), secret),
            self.deliver("order.created", samples.guest_order(), secret),
            self.deliver("product.updated", samples.product_simple(), secret),
            self.deliver("product.created", samples.product_variable(), secret),
            self.deliver("product.updated", samples.variation(), secret),
            self.deliver("customer.created", samples.customer(), secret),
        ]

    def order_document(
        self, *, order_id: str, total: Decimal, currency: str, modified_at: datetime
    ) -> tuple[str, Any]:
        document = samples.order(
            id=int(order_id),
            currency=currency,
            total=samples.wc_format_decimal(total, currency),
            date_modified_gmt=_gmt(modified_at),
        )
        return "order.created", document

    def product_document(
        self, *, product_id: str, title: str, modified_at: datetime
    ) -> tuple[str, Any]:
        document = samples.product_simple(
            id=int(product_id), name=title, date_modified_gmt=_gmt(modified_at)
        )
        return "product.updated", document

    def deliver(self, topic: str, document: Any, secret: str) -> Recording:
        body = samples.php_json(document)
        headers = samples.webhook_headers(topic, body, secret)
        return Recording(f"{topic} #{document.get('id')}", headers, body)
