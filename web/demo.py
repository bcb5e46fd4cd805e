"""A scripted WooCommerce store, for ``make run`` / ``make demo``.

``seed`` prepares a demo company (owner, admin key, a connected WooCommerce
integration, the example rule files) and writes what the demo needs to
``var/demo.json``. ``replay`` sends correctly signed native WooCommerce webhooks to
the running service over real HTTP (a variable product with variations, a
registered buyer's order, a guest order, a re-delivery) and prints what
happened as tables. It sends the WooCommerce provider's sample payloads through
the plugin simulator's standard-library HTTP, so it runs on a production install.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import click

from storeflow.core import accounts
from storeflow.core.runtime import Runtime
from storeflow.core.stores import integrations

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"
STORE_URL = "https://demo-store.example.com"


def seed(rt: Runtime) -> dict[str, Any]:
    from storeflow.rules import loader, runner

    password = None
    with rt.unit_of_work() as session:
        company = accounts.find_company(session, "demo")
        if company is None:
            company = accounts.create_company(session, "demo", "Demo Store")
        if accounts.find_user(session, "owner@demo.test") is None:
            password = secrets.token_urlsafe(12)
            user = accounts.create_user(session, "owner@demo.test", password)
            accounts.add_member(session, user, company, "owner")
        integration = integrations.find_for_store(session, company.id, "woocommerce", STORE_URL)
        if integration is None:
            integration = integrations.create(
                session, company, "woocommerce", store_url=STORE_URL, name="Demo Store"
            )
        for seq in loader.load_path(EXAMPLES):
            runner.save_sequence(session, company.id, seq, source=f"rules/examples/{seq.id}.yaml")
        api_key = accounts.create_api_key(session, company)
        info = {
            "baseUrl": rt.settings.base_url,
            "company": company.slug,
            "apiKey": api_key,
            "integrationId": integration.id,
            "webhookSecret": integration.webhook_secret,
            "ownerEmail": "owner@demo.test",
            "ownerPassword": password,
        }
    path = rt.settings.var_dir / "demo.json"
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)
    return info


def _send(info: dict[str, Any], topic: str, payload: dict[str, Any]) -> int:
    from storeflow.providers.woocommerce import samples
    from storeflow.providers.woocommerce.simulator import request

    body = samples.php_json(payload)
    headers = samples.webhook_headers(topic, body, info["webhookSecret"], source=STORE_URL + "/")
    url = f"{info['baseUrl']}/api/woocommerce/webhooks/{info['integrationId']}"
    return request("POST", url, body=body, headers=headers).status_code


def script() -> list[tuple[str, str, dict[str, Any]]]:
    """The store's story: what it sends, in order, with a one-line caption each."""
    from storeflow.providers.woocommerce import samples

    store = STORE_URL + "/"
    parent = samples.product_variable(
        id=101, name="Hoodie", variation_ids=(201, 202), store_url=store
    )
    blue = samples.variation(
        id=201, parent_id=101, options=(("Color", "Blue"),), sku="HOODIE-BLUE", store_url=store
    )
    green = samples.variation(
        id=202, parent_id=101, options=(("Color", "Green"),), sku="HOODIE-GREEN", store_url=store
    )
    mug = samples.product_simple(
        id=55, name="Caf\u00e9 Mug", price="12.50", sku="MUG-1", store_url=store
    )
    registered = samples.order(
        id=9001,
        customer_id=7,
        email="ana@example.com",
        first_name="Ana",
        status="processing",
        line_items=[
            samples.line_item(
                id=1,
                product_id=101,
                variation_id=201,
                name="Hoodie - Blue",
                parent_name="Hoodie",
                quantity=1,
                unit_price="45.00",
                sku="HOODIE-BLUE",
                attributes=(("pa_color", "Color", "Blue"),),
            )
        ],
        store_url=store,
    )
    guest = samples.guest_order(
        id=9002,
        email="Guest.Buyer@Example.com",
        first_name="Bo",
        line_items=[
            samples.line_item(
                id=2, product_id=55, name="Caf\u00e9 Mug", quantity=2, unit_price="12.50"
            )
        ],
        store_url=store,
    )
    return [
        ("product.created", "variable product Hoodie", parent),
        ("product.created", "variation Hoodie - Blue", blue),
        ("product.created", "variation Hoodie - Green", green),
        ("product.created", "simple product Café Mug", mug),
        ("order.created", "Ana's order (registered, already processing)", registered),
        ("order.created", "a guest's order for two mugs", guest),
        ("order.created", "Ana's order delivered again", registered),
    ]


def replay(info: dict[str, Any], wait: float = 15.0) -> None:
    from storeflow.providers.woocommerce.simulator import Response, request

    auth = {"Authorization": f"Bearer {info['apiKey']}"}

    def get(path: str) -> Response:
        return request("GET", f"{info['baseUrl']}{path}", headers=auth)

    click.echo(f"Sending a scripted WooCommerce store to {info['baseUrl']} ...\n")
    rows = [(topic, caption, _send(info, topic, payload)) for topic, caption, payload in script()]
    _table(["topic", "what", "HTTP"], rows)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        messages = get("/api/messages").json()
        if messages.get("total", 0) >= 1:
            break
        time.sleep(0.5)
    events = get("/api/events?limit=20").json()
    click.echo("\nEvents")
    _table(
        ["id", "name", "email", "order", "line items"],
        [
            (
                e["id"],
                e["name"],
                e["email"],
                e["properties"].get("orderNumber", ""),
                ", ".join(
                    f"{li['providerProductId']}/{li['providerVariantId']}"
                    for li in e["properties"].get("lineItems", [])
                ),
            )
            for e in events.get("events", [])
        ],
    )
    enrollments = get("/api/enrollments").json()
    click.echo("\nEnrollments")
    _table(
        ["id", "sequence", "email", "status", "steps"],
        [
            (
                e["id"],
                e["sequenceId"],
                e["email"],
                e["status"],
                " ".join(s["status"] for s in e["steps"]),
            )
            for e in enrollments.get("enrollments", [])
        ],
    )
    messages = get("/api/messages").json()
    click.echo("\nMessages")
    _table(
        ["id", "email", "subject", "status"],
        [(m["id"], m["email"], m["subject"], m["status"]) for m in messages.get("messages", [])],
    )
    profile = get("/api/subscribers/ana@example.com")
    if profile.ok:
        attrs = profile.json()["attributes"]
        click.echo(
            f"\nana@example.com: ordersCount={attrs.get('ordersCount')} "
            f"totalSpent={attrs.get('totalSpent')} {attrs.get('currency') or ''}"
        )


def _table(headers: list[str], rows: list[tuple[Any, ...]]) -> None:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            click.echo("  ".join("-" * w for w in widths))
    if not rows:
        click.echo("(none)")
