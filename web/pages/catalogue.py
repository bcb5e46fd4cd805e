"""Settings -> Products: the synced catalogue, and replenishment per product.

The list is searchable (title, product id or SKU) and paginated; each product shows
its image, price, stock per variant, waitlist counts and pending reminders. The
product page sets replenishment with the interval learned from past orders beside
the form, so a merchant can take it or not.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.typing import ResponseReturnValue

from storeflow.core.commerce import catalog, replenishment, waitlists
from storeflow.core.commerce.money import to_major
from storeflow.core.errors import NotFound, ValidationFailed
from storeflow.core.storage.tables import ProductRow
from storeflow.web.pages.common import (
    PAGE_SIZE,
    Viewer,
    back,
    blueprint,
    manager,
    notice,
    page_arg,
    render,
    search_arg,
    signed_in,
)
from storeflow.web.runtime import rt

bp = blueprint("pages_products", __name__, url_prefix="/settings/products")


def price(cents: int | None, currency: str | None) -> str:
    if cents is None:
        return "—"
    code = (currency or "USD").upper()
    return f"{to_major(cents, code):,} {code}"


def _views(viewer: Viewer, rows: list[ProductRow]) -> list[dict[str, Any]]:
    ids = [row.id for row in rows]
    variants = catalog.variants_of(viewer.db, ids)
    overview = replenishment.overview(
        viewer.db, rows, min_samples=rt().settings.replenishment_min_samples
    )
    waiting: dict[int, dict[str, dict[str, int]]] = {pid: {} for pid in ids}
    for (pid, vid), counts in waitlists.counts(viewer.db, ids).items():
        waiting[pid][vid] = counts
    return [
        {
            "row": row,
            "price": price(row.price_cents, row.currency),
            "variants": [
                {
                    "row": v,
                    "price": price(v.price_cents, row.currency),
                    "waitlist": waiting[row.id].get(v.provider_variant_id, {}),
                }
                for v in variants[row.id]
            ],
            "waiting": sum(c.get("waiting", 0) for c in waiting[row.id].values()),
            "overview": overview[row.id],
            "url": url_for(
                "pages_products.detail",
                provider=row.provider,
                product_id=row.provider_product_id,
                store=row.integration_id,
            ),
        }
        for row in rows
    ]


@bp.get("")
@signed_in
def index(viewer: Viewer) -> ResponseReturnValue:
    query, page = search_arg(), page_arg()
    rows, total = catalog.list_products(
        viewer.db,
        viewer.company.id,
        search=query or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        "pages/products.html",
        viewer,
        products=_views(viewer, rows),
        total=total,
        q=query,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


def _product(viewer: Viewer, provider: str, product_id: str) -> ProductRow:
    row = catalog.get_product(
        viewer.db,
        viewer.company.id,
        provider,
        product_id,
        integration_id=request.args.get("store") or None,
    )
    if row is None:
        raise NotFound("no such product", code="product_not_found")
    return row


def _detail(viewer: Viewer, row: ProductRow, **context: Any) -> ResponseReturnValue:
    status = context.pop("status", 200)
    return render(
        "pages/product.html",
        viewer,
        status,
        product=_views(viewer, [row])[0],
        min_days=replenishment.MIN_DAYS,
        max_days=replenishment.MAX_DAYS,
        **context,
    )


@bp.get("/<provider>/<product_id>")
@signed_in
def detail(viewer: Viewer, provider: str, product_id: str) -> ResponseReturnValue:
    return _detail(viewer, _product(viewer, provider, product_id), problems={}, form=None)


def _form_setting() -> dict[str, Any]:
    """The form as the API's body: the same parser and messages decide."""
    days = (request.form.get("days") or "").strip()
    body: dict[str, Any] = {
        "enabled": request.form.get("enabled") == "on",
        "match": request.form.get("match", "product"),
        "multiplyByQuantity": request.form.get("multiply") == "on",
    }
    if days:
        body["days"] = int(days) if days.isascii() and days.isdigit() and len(days) < 7 else days
    return body


@bp.post("/<provider>/<product_id>")
@signed_in
def save(viewer: Viewer, provider: str, product_id: str) -> ResponseReturnValue:
    row = _product(viewer, provider, product_id)
    manager(viewer)
    body = _form_setting()
    try:
        setting = replenishment.parse_setting(body)
    except ValidationFailed as error:
        problems = {d["path"].removeprefix("$."): d["message"] for d in error.details}
        return _detail(viewer, row, problems=problems, form=body, status=422)
    replenishment.save_setting(viewer.db, row, setting)
    notice(
        f"Replenishment is on: a reminder {setting.days} days after each purchase."
        if setting.enabled
        else "Replenishment is off; pending reminders were cancelled."
    )
    return back(
        "pages_products.detail",
        provider=row.provider,
        product_id=row.provider_product_id,
        store=row.integration_id,
    )
