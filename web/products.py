"""Admin JSON API for the catalogue: ``/api/products`` and one product with its variants.

Every query is scoped to the API key's company; another company's product is a
404. Replenishment settings and waitlist counts show their defaults until those
features store anything (``replenishment`` / ``waitlist`` blocks are part of the
contract's product shape already). ``PUT .../replenishment`` sets a product's
reminder setting (``storeflow.core.commerce.replenishment``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from storeflow.core.commerce import catalog, replenishment, waitlists
from storeflow.core.errors import NotFound
from storeflow.core.storage.tables import ProductRow, VariantRow
from storeflow.web import responses
from storeflow.web.auth import company_from_api_key
from storeflow.web.inputs import json_body
from storeflow.web.params import int_arg
from storeflow.web.runtime import rt

bp = Blueprint("products", __name__, url_prefix="/api")


def variant_of(row: VariantRow, waitlist: dict[str, int] | None = None) -> responses.Variant:
    return responses.Variant(
        provider_variant_id=row.provider_variant_id,
        title=row.title,
        sku=row.sku,
        price_cents=row.price_cents,
        stock_status=row.stock_status,
        stock_quantity=row.stock_quantity,
        image_url=row.image_url,
        url=row.url,
        waitlist=responses.Waitlist(**waitlist) if waitlist else responses.Waitlist(),
    )


def product_of(
    row: ProductRow,
    variants: list[VariantRow],
    refill: tuple[responses.Replenishment, int] | None = None,
    waitlist: dict[str, dict[str, int]] | None = None,
) -> responses.Product:
    settings, pending = refill or (responses.Replenishment(), 0)
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
        variants=[variant_of(v, (waitlist or {}).get(v.provider_variant_id)) for v in variants],
        replenishment=settings,
        pending_reminders=pending,
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
        refills = _replenishment(rows, _overview(session, rows))
        waiting = _waitlists(session, rows)
        items = [
            product_of(row, variants[row.id], refills[row.id], waiting[row.id]) for row in rows
        ]
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
        product = product_of(
            row,
            variants,
            _replenishment([row], _overview(session, [row]))[row.id],
            _waitlists(session, [row])[row.id],
        )
        return responses.respond(responses.ProductResponse(product=product))


# --- replenishment -----------------------------------------------------------------------


def _replenishment(
    rows: list[ProductRow], overviews: dict[int, replenishment.Overview]
) -> dict[int, tuple[responses.Replenishment, int]]:
    """Each product's setting with its learned interval, and its pending reminders."""
    found = {}
    for row in rows:
        view = overviews[row.id]
        found[row.id] = (
            responses.Replenishment(
                enabled=view.setting.enabled,
                days=view.setting.days,
                match=view.setting.match,
                multiply_by_quantity=True if view.setting.multiply_by_quantity else None,
                suggested_days=view.suggestion.days,
                sample_size=view.suggestion.sample_size,
            ),
            view.pending,
        )
    return found


def _overview(session: Any, rows: list[ProductRow]) -> dict[int, replenishment.Overview]:
    min_samples = rt().settings.replenishment_min_samples
    return replenishment.overview(session, rows, min_samples=min_samples)


@bp.put("/products/<provider>/<provider_product_id>/replenishment")
def put_replenishment(provider: str, provider_product_id: str) -> Response:
    """Set the product's reminder setting; answers the product as it now is."""
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        setting = replenishment.parse_setting(json_body())
        row = catalog.get_product(
            session,
            company.id,
            provider,
            provider_product_id,
            integration_id=request.args.get("integration") or None,
        )
        if row is None:
            raise NotFound("no such product", code="product_not_found")
        replenishment.save_setting(session, row, setting)
        variants = catalog.variants_of(session, [row.id])[row.id]
        product = product_of(
            row,
            variants,
            _replenishment([row], _overview(session, [row]))[row.id],
            _waitlists(session, [row])[row.id],
        )
        return responses.respond(responses.ProductResponse(product=product))


# --- back in stock -----------------------------------------------------------------------


def _waitlists(session: Any, rows: list[ProductRow]) -> dict[int, dict[str, dict[str, int]]]:
    """Waiting and notified entries per product and variant."""
    found: dict[int, dict[str, dict[str, int]]] = {row.id: {} for row in rows}
    for (pid, vid), counts in waitlists.counts(session, found).items():
        found[pid][vid] = counts
    return found
