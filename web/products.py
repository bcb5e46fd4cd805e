"""Admin JSON API for the catalogue: ``/api/products`` and one product with its variants.

Every query is scoped to the API key's company; another company's product is a
404. Replenishment settings and waitlist counts show their defaults until those
features store anything (``replenishment`` / ``waitlist`` blocks are part of the
contract's product shape already).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from storeflow.core.commerce import catalog
from storeflow.core.errors import NotFound
from storeflow.core.storage.tables import ProductRow, VariantRow
from storeflow.web import responses
from storeflow.web.auth import company_from_api_key
from storeflow.web.params import int_arg
from storeflow.web.runtime import rt

bp = Blueprint("products", __name__, url_prefix="/api")


def variant_of(row: VariantRow) -> responses.Variant:
    return responses.Variant(
        provider_variant_id=row.provider_variant_id,
        title=row.title,
        sku=row.sku,
        price_cents=row.price_cents,
        stock_status=row.stock_status,
        stock_quantity=row.stock_quantity,
        image_url=row.image_url,
        url=row.url,
    )


def product_of(row: ProductRow, variants: list[VariantRow]) -> responses.Product:
    return responses.Product(
        provider=row.provider,
        provider_product_id=row.provider_product_id,
        integration_id=row.integration_id,
        title=row.title,
        type=row.type,
        status=row.status,
        url=row.url,
        image_url=row.image_url,
        categories=list(row.categories or []),
        stock_status=row.stock_status,
        stock_quantity=row.stock_quantity,
        price_cents=row.price_cents,
        currency=row.currency,
        deleted=row.deleted,
        variants=[variant_of(v) for v in variants],
    )


@bp.get("/products")
def list_products() -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        rows, total = catalog.list_products(
            session,
            company.id,
            provider=request.args.get("provider") or None,
            search=(request.args.get("search") or "")[:200] or None,
            include_deleted=request.args.get("deleted", "").lower() in ("1", "true", "yes"),
            limit=int_arg("limit", 50, low=1, high=500),
            offset=int_arg("offset", 0, high=10**9),
        )
        variants = catalog.variants_of(session, [row.id for row in rows])
        items = [product_of(row, variants[row.id]) for row in rows]
        return responses.respond(responses.ProductList(products=items, total=total))


@bp.get("/products/<provider>/<provider_product_id>")
def get_product(provider: str, provider_product_id: str) -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = catalog.get_product(
            session,
            company.id,
            provider,
            provider_product_id,
            integration_id=request.args.get("integration") or None,
        )
        if row is None:
            raise NotFound("no such product", code="product_not_found")
        variants = catalog.variants_of(session, [row.id])[row.id]
        return responses.respond(responses.ProductResponse(product=product_of(row, variants)))
