"""Back-in-stock waitlists: storefront capture, restock, out-of-stock-again, re-arm, pacing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.commerce import waitlists
from storeflow.core.storage.tables import Company, Event, Subscriber, WaitlistEntry
from tests.providers import woocommerce_payloads as wc

SUBSCRIBE = "/api/woocommerce/back-in-stock/subscribe"
ORIGIN = "https://acme.example.com"


def ask(client: Any, *, origin: str | None = ORIGIN, headers: Any = None, **fields: Any) -> Any:
    body = {
        "storeUrl": "https://www.Acme.example.com/",
        "email": "ana@example.com",
        "providerProductId": "794",
        "productTitle": "Premium Quality",
        **fields,
    }
    sent = {"Origin": origin} if origin else {}
    sent.update(headers or {})
    return client.post(SUBSCRIBE, json=body, headers=sent, environ_base={"REMOTE_ADDR": "10.0.0.1"})


def product_update(client: Any, tenant: Any, payload: dict[str, Any], **headers: Any) -> Any:
    body = wc.php_json(payload)
    sent = wc.webhook_headers("product.updated", body, tenant.webhook_secret, **headers)
    return client.post(
        f"/api/woocommerce/webhooks/{tenant.integration_id}", data=body, headers=sent
    )


_minute = [0]


def simple(stock: int | None, status: str | None = None, **extra: Any) -> dict[str, Any]:
    """The mug (id 794) with a newer modification time on every call."""
    _minute[0] += 1
    when = extra.pop("modified", f"2025-03-01T10:{_minute[0] % 60:02d}:{_minute[0] // 60:02d}")
    return wc.product_simple(
        stock_quantity=stock,
        stock_status=status or ("instock" if stock else "outofstock"),
        date_modified_gmt=when,
        **extra,
    )


def events_named(rt: Any, name: str) -> list[Event]:
    with rt.unit_of_work() as session:
        rows = session.scalars(select(Event).where(Event.name == name).order_by(Event.id))
        return list(rows)


def entries(rt: Any) -> list[WaitlistEntry]:
    with rt.unit_of_work() as session:
        return list(session.scalars(select(WaitlistEntry).order_by(WaitlistEntry.id)))


def set_company(rt: Any, company_id: int, **settings: Any) -> None:
    with rt.unit_of_work() as session:
        company = session.get_one(Company, company_id)
        company.settings = {**(company.settings or {}), "backInStock": settings}


# --- capture ---------------------------------------------------------------------------------


def test_a_request_creates_the_subscriber_the_entry_and_the_requested_event(client, rt, tenant):
    answer = ask(client, email="Ana@Example.com")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"success": True}
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in answer.headers["Vary"]
    [entry] = entries(rt)
    assert (entry.provider_product_id, entry.provider_variant_id) == ("794", "794")
    assert entry.status == "waiting" and entry.email == "ana@example.com"
    [event] = events_named(rt, "ecommerce.back_in_stock_requested")
    assert event.email == "ana@example.com"
    assert event.properties["product"]["providerVariantId"] == "794"
    # Nothing but the request: no signup event that would start signup automations.
    with rt.unit_of_work() as session:
        assert [e.name for e in session.scalars(select(Event))] == [event.name]
        assert session.scalar(select(Subscriber.email)) == "ana@example.com"


def test_a_repeated_request_while_waiting_is_a_200_no_op(client, rt, tenant):
    assert ask(client).status_code == 200
    again = ask(client, email=" ANA@example.com")
    assert again.status_code == 200 and again.get_json() == {"success": True}
    assert len(entries(rt)) == 1
    assert len(events_named(rt, "ecommerce.back_in_stock_requested")) == 1


def test_a_variation_request_names_the_variant(client, rt, tenant):
    ask(client, providerProductId="732", providerVariantId="733", variantTitle="Blue, Large")
    [entry] = entries(rt)
    assert (entry.provider_product_id, entry.provider_variant_id) == ("732", "733")
    assert entry.variant_title == "Blue, Large"


def test_wrong_or_missing_origin_is_403(client, rt, tenant):
    for origin in ("https://evil.example.net", None, "null"):
        answer = ask(client, origin=origin)
        assert answer.status_code == 403, origin
        assert answer.get_json()["error"]["code"] == "wrong_origin"
        assert answer.headers.get("Access-Control-Allow-Origin") is None
    assert entries(rt) == []


def test_unknown_store_is_404(client, tenant):
    answer = ask(client, storeUrl="https://nobody.example.org")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "store_not_found"


@pytest.mark.parametrize("email", ["not-an-email", "ana@", "ana@@example.com", ""])
def test_bad_email_is_422(client, tenant, email):
    answer = ask(client, email=email)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["details"][0]["path"] == "$.email"


def test_missing_product_and_wrong_types_are_422(client, tenant):
    assert ask(client, providerProductId="").status_code == 422
    answer = ask(client, providerProductId=794)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["details"][0]["path"] == "$.providerProductId"


def test_malformed_json_is_400_and_wrong_type_415(client, tenant):
    sent = {"Origin": ORIGIN, "Content-Type": "application/json"}
    answer = client.post(SUBSCRIBE, data=b'{"storeUrl": ', headers=sent)
    assert answer.status_code == 400
    assert answer.get_json()["success"] is False
    plain = client.post(SUBSCRIBE, data=b"email=a", headers={"Origin": ORIGIN})
    assert plain.status_code == 415


def test_a_body_over_32_kib_is_413(client, rt, tenant):
    limit = rt.settings.storefront_body_limit
    answer = ask(client, productTitle="x" * limit)
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "payload_too_large"
    assert ask(client, productTitle="x" * 400).status_code == 200


def test_rate_limits_per_ip_and_per_email_answer_429_with_retry_after(client, rt, tenant):
    rt.settings = attrs.evolve(rt.settings, storefront_email_per_hour=2, storefront_ip_per_minute=4)
    assert ask(client).status_code == 200
    assert ask(client).status_code == 200
    by_email = ask(client)
    assert by_email.status_code == 429
    assert int(by_email.headers["Retry-After"]) >= 1
    assert by_email.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert ask(client, email="bo@example.com").status_code == 200  # another email: fine
    by_ip = ask(client, email="cy@example.com")
    assert by_ip.status_code == 429 and by_ip.get_json()["error"]["code"] == "rate_limited"
    other_ip = client.post(
        SUBSCRIBE,
        json={"storeUrl": ORIGIN, "email": "cy@example.com", "providerProductId": "794"},
        headers={"Origin": ORIGIN},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert other_ip.status_code == 200
    clock.travel(timedelta(seconds=3601))  # a new window
    assert ask(client).status_code == 200


def test_preflight_answers_only_the_connected_origin(client, tenant):
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ok = client.options(SUBSCRIBE, headers={"Origin": ORIGIN, **asked})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "content-type" in ok.headers["Access-Control-Allow-Headers"].lower()
    assert "Origin" in ok.headers["Vary"]
    www = client.options(SUBSCRIBE, headers={"Origin": "https://www.acme.example.com", **asked})
    assert www.headers["Access-Control-Allow-Origin"] == "https://www.acme.example.com"
    bad = client.options(SUBSCRIBE, headers={"Origin": "https://evil.example.net", **asked})
    assert bad.status_code == 403
    assert "Access-Control-Allow-Origin" not in bad.headers
    assert "Origin" in bad.headers["Vary"]


def test_company_id_picks_the_store_when_several_companies_connect_it(client, rt, tenant):
    from storeflow.core import accounts
    from storeflow.core.stores import integrations

    with rt.unit_of_work() as session:
        other = accounts.create_company(session, "other", "Other")
        integrations.create(session, other, "woocommerce", store_url="https://acme.example.com")
        other_id = other.id
    assert ask(client).status_code == 422
    assert ask(client, companyId=other_id).status_code == 200
    [entry] = entries(rt)
    assert entry.company_id == other_id


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("https://www.Shop.example/", "shop.example"),
        ("http://shop.example", "shop.example"),
        ("SHOP.example///", "shop.example"),
        ("https://shop.example/blog/", "shop.example/blog"),
    ],
)
def test_store_urls_are_keyed_without_scheme_www_slash_or_case(given, key):
    assert waitlists.store_key(given) == key


# --- restock -----------------------------------------------------------------------------------


def test_restock_of_a_simple_product_notifies_each_waiting_entry_once(client, rt, tenant):
    product_update(client, tenant, simple(0))
    ask(client, email="ana@example.com")
    ask(client, email="bo@example.com")
    assert product_update(client, tenant, simple(5)).status_code == 200
    notified = events_named(rt, "ecommerce.back_in_stock")
    assert sorted(e.email for e in notified) == ["ana@example.com", "bo@example.com"]
    product = notified[0].properties["product"]
    assert product["providerVariantId"] == "794" and product["title"] == "Premium Quality"
    assert product["url"] and product["imageUrl"]
    assert {e.status for e in entries(rt)} == {"notified"}
    # The same restock delivered again, and a further in-stock update: nothing new.
    payload = simple(7)
    product_update(client, tenant, payload)
    product_update(client, tenant, payload, delivery="another-delivery")
    assert len(events_named(rt, "ecommerce.back_in_stock")) == 2


def test_a_stale_restock_payload_is_ignored(client, rt, tenant):
    product_update(client, tenant, simple(0, modified="2025-03-02T10:00:00"))
    ask(client)
    product_update(client, tenant, simple(5, modified="2025-03-01T09:00:00"))
    assert events_named(rt, "ecommerce.back_in_stock") == []
    assert entries(rt)[0].status == "waiting"


def test_a_variation_restock_notifies_only_that_variants_entries(client, rt, tenant):
    def variation(vid: int, stock: int, minute: int) -> dict[str, Any]:
        return wc.variation(
            id=vid,
            manage_stock=True,
            stock_quantity=stock,
            stock_status="instock" if stock else "outofstock",
            date_modified_gmt=f"2025-03-01T11:{minute:02d}:00",
        )

    product_update(client, tenant, wc.product_variable())
    product_update(client, tenant, variation(733, 0, 1))
    product_update(client, tenant, variation(734, 0, 1))
    ask(client, email="ana@example.com", providerProductId="732", providerVariantId="733")
    ask(client, email="bo@example.com", providerProductId="732", providerVariantId="734")
    product_update(client, tenant, variation(733, 3, 2))
    [event] = events_named(rt, "ecommerce.back_in_stock")
    assert event.email == "ana@example.com"
    assert event.properties["product"]["providerVariantId"] == "733"
    assert event.properties["product"]["title"] == "Hoodie"
    assert event.properties["product"]["variantTitle"] == "Blue, Large"


def test_backorders_count_as_in_stock_only_when_the_company_says_so(client, rt, tenant):
    product_update(client, tenant, simple(0))
    ask(client)
    product_update(client, tenant, simple(None, "onbackorder", manage_stock=False))
    assert events_named(rt, "ecommerce.back_in_stock") == []
    product_update(client, tenant, simple(0))
    set_company(rt, tenant.company_id, backordersInStock=True)
    product_update(client, tenant, simple(None, "onbackorder", manage_stock=False))
    assert len(events_named(rt, "ecommerce.back_in_stock")) == 1


def test_flapping_stock_rearms_and_notifies_again_on_the_next_restock(client, rt, tenant):
    product_update(client, tenant, simple(0))
    ask(client)
    product_update(client, tenant, simple(2))  # in
    assert [e.status for e in entries(rt)] == ["notified"]
    product_update(client, tenant, simple(0))  # out again
    [gone] = events_named(rt, "ecommerce.back_in_stock_out_of_stock")
    assert gone.email == "ana@example.com"
    assert [e.status for e in entries(rt)] == ["waiting"]  # re-armed
    product_update(client, tenant, simple(4))  # in again
    assert len(events_named(rt, "ecommerce.back_in_stock")) == 2
    assert len(events_named(rt, "ecommerce.back_in_stock_out_of_stock")) == 1


def test_without_rearm_a_notified_entry_is_not_told_again(client, rt, tenant):
    set_company(rt, tenant.company_id, rearm=False)
    product_update(client, tenant, simple(0))
    ask(client)
    product_update(client, tenant, simple(2))
    product_update(client, tenant, simple(0))
    product_update(client, tenant, simple(4))
    assert len(events_named(rt, "ecommerce.back_in_stock")) == 1
    assert len(events_named(rt, "ecommerce.back_in_stock_out_of_stock")) == 1
    assert [e.status for e in entries(rt)] == ["notified"]


def test_pacing_notifies_per_unit_of_stock_oldest_first_and_continues_as_stock_remains(
    client, rt, tenant
):
    set_company(rt, tenant.company_id, pacing={"perUnit": 2, "intervalMinutes": 30})
    product_update(client, tenant, simple(0))
    people = [f"p{n}@example.com" for n in range(7)]
    for email in people:
        ask(client, email=email)
        clock.travel(timedelta(seconds=1))
    product_update(client, tenant, simple(2))  # 2 units x 2 per unit = 4 shoppers
    assert [e.email for e in events_named(rt, "ecommerce.back_in_stock")] == people[:4]
    product_update(client, tenant, simple(1))  # one sold: 1 left
    clock.travel(timedelta(minutes=30, seconds=1))
    _run_due(rt)
    told = [e.email for e in events_named(rt, "ecommerce.back_in_stock")]
    assert told == people[:6]  # 1 unit left x 2 per unit
    product_update(client, tenant, simple(0))  # sold out: the last one keeps waiting
    clock.travel(timedelta(minutes=30, seconds=1))
    _run_due(rt)
    assert len(events_named(rt, "ecommerce.back_in_stock")) == 6


def _run_due(rt: Any) -> None:
    from storeflow.core.work import tasks

    tasks.drain(rt)


def test_a_purchase_cancels_the_buyers_entry(client, rt, tenant):
    product_update(client, tenant, simple(0))
    ask(client, email="john.doe@example.com")
    ask(client, email="bo@example.com")
    order = wc.order(
        id=900,
        line_items=[wc.line_item(product_id=794, variation_id=0, name="Premium Quality")],
        date_created_gmt=clock.now().strftime("%Y-%m-%dT%H:%M:%S"),
    )
    body = wc.php_json(order)
    sent = wc.webhook_headers("order.created", body, tenant.webhook_secret)
    assert (
        client.post(
            f"/api/woocommerce/webhooks/{tenant.integration_id}", data=body, headers=sent
        ).status_code
        == 200
    )
    by_email = {e.email: e.status for e in entries(rt)}
    assert by_email == {"john.doe@example.com": "purchased", "bo@example.com": "waiting"}
    product_update(client, tenant, simple(3))
    assert [e.email for e in events_named(rt, "ecommerce.back_in_stock")] == ["bo@example.com"]


def test_unsubscribed_shoppers_are_not_notified(client, rt, tenant):
    product_update(client, tenant, simple(0))
    ask(client)
    with rt.unit_of_work() as session:
        session.scalars(select(Subscriber)).one().status = "unsubscribed"
    product_update(client, tenant, simple(3))
    assert events_named(rt, "ecommerce.back_in_stock") == []
    assert entries(rt)[0].status == "cancelled"


# --- visibility ---------------------------------------------------------------------------------


def test_product_and_profile_show_the_waitlist(client, rt, tenant):
    product_update(client, tenant, simple(0))
    ask(client, email="ana@example.com")
    ask(client, email="bo@example.com")
    product = client.get("/api/products/woocommerce/794", headers=tenant.auth).get_json()
    assert product["product"]["variants"][0]["waitlist"] == {"waiting": 2, "notified": 0}
    profile = client.get("/api/subscribers/ana@example.com", headers=tenant.auth).get_json()
    [entry] = profile["waitlists"]
    assert entry["providerVariantId"] == "794" and entry["status"] == "waiting"
    assert entry["productTitle"] == "Premium Quality"
    product_update(client, tenant, simple(3))
    product = client.get("/api/products/woocommerce/794", headers=tenant.auth).get_json()
    assert product["product"]["variants"][0]["waitlist"] == {"waiting": 0, "notified": 2}


def test_settings_through_the_admin_api(client, tenant):
    assert client.get("/api/settings/back-in-stock", headers=tenant.auth).get_json()[
        "settings"
    ] == {
        "rearm": True,
        "backordersInStock": False,
        "pacing": None,
    }
    wanted = {
        "rearm": False,
        "backordersInStock": True,
        "pacing": {"perUnit": 3, "intervalMinutes": 15},
    }
    put = client.put("/api/settings/back-in-stock", json=wanted, headers=tenant.auth)
    assert put.status_code == 200 and put.get_json()["settings"] == wanted
    bad = client.put(
        "/api/settings/back-in-stock", json={"pacing": {"perUnit": 0}}, headers=tenant.auth
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["path"] == "$.pacing.perUnit"


def test_the_answers_match_the_openapi_document(app, client, tenant):
    from tests.test_openapi import Conformance

    check = Conformance(app, client.get("/api/openapi.json").get_json())
    check(ask(client))
    check(ask(client, origin="https://evil.example.net"))
    check(ask(client, storeUrl="https://nobody.example.org"))
    check(ask(client, email="nope"))
    check(client.get("/api/settings/back-in-stock", headers=tenant.auth))
    check(client.put("/api/settings/back-in-stock", json={"rearm": False}, headers=tenant.auth))
    check(client.put("/api/settings/back-in-stock", json={"rearm": 1}, headers=tenant.auth))
    check(
        client.put(
            "/api/settings/back-in-stock", json={"pacing": {"perUnit": 2}}, headers=tenant.auth
        )
    )
    assert {
        "subscribeBackInStock",
        "getBackInStockSettings",
        "putBackInStockSettings",
    } <= check.seen


def test_the_snippet_is_served_as_javascript(client):
    answer = client.get("/storefront/back-in-stock.js")
    assert answer.status_code == 200
    assert answer.mimetype == "text/javascript"
    assert "/api/woocommerce/back-in-stock/subscribe" in answer.get_data(as_text=True)
    answer.close()


def test_racing_restock_updates_notify_each_entry_once(client, rt, tenant):
    from concurrent.futures import ThreadPoolExecutor

    from storeflow.core.commerce import ingest
    from storeflow.core.storage.tables import Integration, WaitlistRestock
    from storeflow.core.stores import integrations
    from storeflow.core.work import tasks

    product_update(client, tenant, simple(0))
    for n in range(5):
        ask(client, email=f"p{n}@example.com")
    with rt.unit_of_work() as session:
        store = integrations.context(session.get_one(Integration, tenant.integration_id))
    provider = rt.providers["woocommerce"]
    mapped = [
        provider.map_webhook("product.updated", simple(3 + n), store).records for n in range(2)
    ]

    def apply(recs: Any) -> None:
        with rt.unit_of_work() as session:
            ingest.apply_records(session, store, "woocommerce", list(recs), live=True)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(apply, mapped))
    tasks.drain(rt)
    with rt.unit_of_work() as session:
        assert len(list(session.scalars(select(WaitlistRestock)))) == 1
    assert len(events_named(rt, "ecommerce.back_in_stock")) == 5


# --- stock managed by the parent (WooCommerce manage_stock: "parent") ----------------------


def hoodie(stock: int, minute: int) -> dict[str, Any]:
    """The variable hoodie (732) counting the stock its variations share."""
    return wc.product_variable(
        manage_stock=True,
        stock_quantity=stock,
        stock_status="instock" if stock > 0 else "outofstock",
        date_modified_gmt=f"2025-03-01T12:{minute:02d}:00",
    )


def hoodie_variation(vid: int, manage_stock: bool | str, stock: int) -> dict[str, Any]:
    return wc.variation(
        id=vid,
        manage_stock=manage_stock,
        stock_quantity=stock,
        stock_status="instock" if stock > 0 else "outofstock",
        date_modified_gmt="2025-03-01T11:00:00",
    )


def variant_stock(rt: Any) -> dict[str, tuple[str | None, int | None]]:
    from storeflow.core.storage.tables import VariantRow

    with rt.unit_of_work() as session:
        return {
            row.provider_variant_id: (row.stock_status, row.stock_quantity)
            for row in session.scalars(select(VariantRow))
        }


def test_a_parent_only_update_restocks_the_variations_whose_stock_it_manages(client, rt, tenant):
    product_update(client, tenant, hoodie(0, 1))
    product_update(client, tenant, hoodie_variation(733, "parent", 0))
    product_update(client, tenant, hoodie_variation(734, "parent", 0))
    product_update(client, tenant, hoodie_variation(735, True, 0))  # counts its own
    for email, vid in (("ana@example.com", "733"), ("bo@example.com", "734")):
        ask(client, email=email, providerProductId="732", providerVariantId=vid)
    ask(client, email="cy@example.com", providerProductId="732", providerVariantId="735")

    # Only the parent is delivered: WooCommerce syncs its variations without webhooks.
    assert product_update(client, tenant, hoodie(6, 2)).status_code == 200
    stock = variant_stock(rt)
    assert stock["733"] == stock["734"] == ("instock", 6)
    assert stock["735"] == ("outofstock", 0)
    told = events_named(rt, "ecommerce.back_in_stock")
    assert sorted((e.email, e.properties["product"]["providerVariantId"]) for e in told) == [
        ("ana@example.com", "733"),
        ("bo@example.com", "734"),
    ]
    assert told[0].properties["product"]["title"] == "Hoodie"

    # An older parent payload saying "sold out" changes nothing; a newer one does.
    product_update(client, tenant, hoodie(0, 0))
    assert variant_stock(rt)["733"] == ("instock", 6)
    assert events_named(rt, "ecommerce.back_in_stock_out_of_stock") == []
    product_update(client, tenant, hoodie(0, 3))
    assert variant_stock(rt)["733"] == ("outofstock", 0)
    gone = events_named(rt, "ecommerce.back_in_stock_out_of_stock")
    assert sorted(e.email for e in gone) == ["ana@example.com", "bo@example.com"]


def test_a_parent_without_stock_management_leaves_its_variations_alone(client, rt, tenant):
    product_update(client, tenant, hoodie_variation(733, "parent", 0))
    ask(client, providerProductId="732", providerVariantId="733")
    # The parent's status is only a summary of its variations when it counts nothing.
    product_update(client, tenant, wc.product_variable(date_modified_gmt="2025-03-01T12:05:00"))
    assert variant_stock(rt)["733"] == ("outofstock", 0)
    assert events_named(rt, "ecommerce.back_in_stock") == []


def test_a_variation_that_stops_following_its_parent_keeps_its_own_stock(client, rt, tenant):
    product_update(client, tenant, hoodie(0, 1))
    product_update(client, tenant, hoodie_variation(733, "parent", 0))
    own = hoodie_variation(733, True, 0)
    own["date_modified_gmt"] = "2025-03-01T11:30:00"
    product_update(client, tenant, own)
    product_update(client, tenant, hoodie(4, 2))
    assert variant_stock(rt)["733"] == ("outofstock", 0)


def test_a_synced_variation_without_type_is_a_variant_of_its_parent(client, rt, tenant):
    from storeflow.core.storage.tables import ProductRow
    from tests.synckit import plugin_for

    plugin = plugin_for(rt, client, tenant.integration_id)
    item = hoodie_variation(733, "parent", 0)
    del item["type"]  # /products/732/variations sends none
    item["image"] = item.pop("images")[0]
    plugin.ok("products", [wc.product_variable(), item])
    with rt.unit_of_work() as session:
        assert list(session.scalars(select(ProductRow.provider_product_id))) == ["732"]
    assert variant_stock(rt) == {"733": ("outofstock", 0)}
    ask(client, providerProductId="732", providerVariantId="733")
    product_update(client, tenant, hoodie(3, 4))
    [event] = events_named(rt, "ecommerce.back_in_stock")
    assert event.properties["product"]["providerVariantId"] == "733"


# --- the storefront accepts exactly what store data accepts ----------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "ana@example.com",
        " Ana@BÜCHER.de ",
        "ana@xn--bcher-kva.de",
        "ana@shop.test",  # special-use domain: store data refuses it
        "owner@localhost",
        "ana@intranet",
        "a,b@example.com",
        "ana@example..com",
    ],
)
def test_the_storefront_takes_the_addresses_store_data_takes(client, rt, tenant, email):
    from storeflow.core.emails import usable_email

    answer = ask(client, email=email)
    stored = usable_email(email)
    if stored is None:
        assert answer.status_code == 422
        assert answer.get_json()["error"]["details"][0]["path"] == "$.email"
        assert entries(rt) == []
    else:
        assert answer.status_code == 200, answer.get_json()
        assert [entry.email for entry in entries(rt)] == [stored]
