"""Connecting a shop: OAuth install and callback, encrypted tokens, webhook registration
and the GraphQL sync, against a real HTTP server on loopback that plays Shopify."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
import pytest
from sqlalchemy import select

from storeflow.core import accounts
from storeflow.core.storage.tables import Event, Integration, OrderRow, ProductRow, Subscriber
from storeflow.core.stores import integrations
from storeflow.providers.shopify import oauth, plugin, signature
from tests.providers import shopify_payloads as fx

ALL_SCOPES = ",".join(
    s for s in oauth.REQUIRED_SCOPES if s != "read_discounts"
)  # write implies read


class FakeShopify:
    """What the tests make Shopify answer, and what it was sent."""

    def __init__(self) -> None:
        self.scope = ALL_SCOPES
        self.codes: list[str] = []
        self.tokens: list[str] = []
        self.topics: list[str] = []
        self.callbacks: set[str] = set()
        self.queries: list[str] = []
        self.throttle_first = True

    def token(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("client_id") != fx.API_KEY or body.get("client_secret") != fx.SECRET:
            return 400, {"error": "invalid_client"}
        self.codes.append(body.get("code", ""))
        return 200, {"access_token": "shpat_0123456789abcdef", "scope": self.scope}

    def graphql(self, token: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.tokens.append(token)
        if token != "shpat_0123456789abcdef":
            return 401, {"errors": "[API] Invalid API key or access token"}
        query, variables = body["query"], body.get("variables") or {}
        cost = {
            "requestedQueryCost": 102,
            "actualQueryCost": 12,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 1990,
                "restoreRate": 100.0,
            },
        }
        if "webhookSubscriptionCreate" in query:
            self.topics.append(variables["topic"])
            self.callbacks.add(variables["sub"]["callbackUrl"])
            data = {
                "webhookSubscriptionCreate": {
                    "webhookSubscription": {"id": "gid://x"},
                    "userErrors": [],
                }
            }
            return 200, {"data": data, "extensions": {"cost": cost}}
        resource = next(r for r in ("products", "customers", "orders") if f"{r}(first" in query)
        self.queries.append(f"{resource}:{variables.get('after')}")
        if resource == "products" and self.throttle_first:
            self.throttle_first = False
            low = {
                **cost,
                "throttleStatus": {
                    **cost["throttleStatus"],
                    "currentlyAvailable": 101.9,
                    "restoreRate": 1000.0,
                },
            }
            return 200, {
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": {"cost": low},
            }
        pages = PAGES[resource]
        index = 0 if variables.get("after") is None else int(variables["after"])
        nodes = pages[index]
        info = {"hasNextPage": index + 1 < len(pages), "endCursor": str(index + 1)}
        return 200, {
            "data": {resource: {"nodes": nodes, "pageInfo": info}},
            "extensions": {"cost": cost},
        }


def _gql_product(pid: int, vid: int, quantity: int) -> dict[str, Any]:
    return {
        "legacyResourceId": str(pid),
        "title": f"Product {pid}",
        "handle": f"p-{pid}",
        "status": "ACTIVE",
        "productType": "Shirts",
        "tags": ["sale", "summer"],
        "updatedAt": "2026-03-01T12:00:00Z",
        "featuredImage": {"url": "https://cdn.shopify.com/p.jpg"},
        "variants": {
            "nodes": [
                {
                    "legacyResourceId": str(vid),
                    "title": "Default Title",
                    "sku": "S",
                    "price": "10.00",
                    "inventoryQuantity": quantity,
                    "inventoryPolicy": "DENY",
                    "inventoryItem": {"legacyResourceId": str(vid + 1)},
                }
            ]
        },
    }


PAGES: dict[str, list[list[dict[str, Any]]]] = {
    "products": [
        [_gql_product(fx.PRODUCT_ID, fx.VARIANT_ID, 3)],
        [_gql_product(788032119674292923, 5, 0)],
    ],
    "customers": [
        [
            {
                "legacyResourceId": str(fx.CUSTOMER_ID),
                "email": fx.EMAIL,
                "firstName": "Bob",
                "lastName": "Norman",
                "createdAt": "2026-01-01T00:00:00Z",
                "updatedAt": "2026-01-02T00:00:00Z",
            }
        ]
    ],
    "orders": [
        [
            {
                "legacyResourceId": str(fx.ORDER_ID),
                "name": "#1001",
                "email": fx.EMAIL,
                "createdAt": "2026-01-03T00:00:00Z",
                "processedAt": "2026-01-03T00:00:00Z",
                "updatedAt": "2026-01-03T00:00:00Z",
                "cancelledAt": None,
                "displayFinancialStatus": "PAID",
                "displayFulfillmentStatus": "UNFULFILLED",
                "currencyCode": "USD",
                "totalPriceSet": {"shopMoney": {"amount": "20.0"}},
                "customer": {
                    "legacyResourceId": str(fx.CUSTOMER_ID),
                    "email": fx.EMAIL,
                    "firstName": "Bob",
                    "lastName": "Norman",
                },
                "lineItems": {
                    "nodes": [
                        {
                            "id": "gid://shopify/LineItem/1",
                            "title": "Product",
                            "variantTitle": None,
                            "sku": "S",
                            "quantity": 2,
                            "originalUnitPriceSet": {"shopMoney": {"amount": "10.00"}},
                            "totalDiscountSet": {"shopMoney": {"amount": "0.0"}},
                            "product": {"legacyResourceId": str(fx.PRODUCT_ID)},
                            "variant": {"legacyResourceId": str(fx.VARIANT_ID)},
                        }
                    ]
                },
            }
        ]
    ],
}


@pytest.fixture(scope="module")
def shopify() -> Iterator[tuple[str, FakeShopify]]:
    state = {"fake": FakeShopify()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            fake = state["fake"]
            if self.path == "/admin/oauth/access_token":
                status, answer = fake.token(body)
            elif self.path == f"/admin/api/{fx.API_VERSION}/graphql.json":
                status, answer = fake.graphql(self.headers.get("X-Shopify-Access-Token", ""), body)
            else:
                status, answer = 404, {"errors": "Not Found"}
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    holder = _Holder(f"http://127.0.0.1:{server.server_address[1]}", state)
    yield holder  # type: ignore[misc]
    server.shutdown()
    server.server_close()


@attrs.define
class _Holder:
    url: str
    state: dict[str, FakeShopify]

    @property
    def fake(self) -> FakeShopify:
        return self.state["fake"]

    def reset(self) -> FakeShopify:
        self.state["fake"] = FakeShopify()
        return self.state["fake"]


@pytest.fixture
def fake(shopify: Any) -> FakeShopify:
    return shopify.reset()


@pytest.fixture
def settings(settings: Any, shopify: Any) -> Any:
    return attrs.evolve(
        settings,
        shopify_api_key=fx.API_KEY,
        shopify_api_secret=fx.SECRET,
        shopify_base_url=shopify.url,
        base_url="https://storeflow.example.com",
    )


@pytest.fixture
def api_key(rt: Any) -> str:
    with rt.unit_of_work() as session:
        company = accounts.create_company(session, "acme", "Acme")
        return accounts.create_api_key(session, company)


def install(client: Any, api_key: str, shop: str = fx.SHOP) -> Any:
    return client.get(
        f"/api/shopify/install?shop={shop}", headers={"Authorization": f"Bearer {api_key}"}
    )


def callback_query(
    state: str, *, shop: str = fx.SHOP, secret: str = fx.SECRET, **extra: str
) -> str:
    params = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw",
        "shop": shop,
        "state": state,
        "timestamp": "1764590000",
        **extra,
    }
    params["hmac"] = signature.sign_query(params, secret)
    return urlencode(params)


def state_of(answer: Any) -> str:
    assert answer.status_code == 302, answer.get_json()
    return parse_qs(urlsplit(answer.headers["Location"]).query)["state"][0]


def integration(rt: Any) -> Integration:
    with rt.reading() as session:
        return session.scalars(select(Integration)).one()


# --- the happy path -----------------------------------------------------------------------


def test_install_redirects_to_the_consent_page_with_scopes_and_state(client, api_key, shopify):
    answer = install(client, api_key)
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == shopify.url
    assert location.path == "/admin/oauth/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == [fx.API_KEY]
    assert query["scope"][0].split(",") == list(oauth.REQUIRED_SCOPES)
    assert query["redirect_uri"] == ["https://storeflow.example.com/api/shopify/callback"]
    assert state_of(answer)


def test_install_needs_the_companys_api_key_and_a_myshopify_shop(client, api_key):
    assert client.get(f"/api/shopify/install?shop={fx.SHOP}").status_code == 401
    for shop in ("evil.example.com", "demo.myshopify.com.evil.com", "a/b.myshopify.com", ""):
        answer = install(client, api_key, shop)
        assert answer.status_code == 422, shop
        assert answer.get_json()["error"]["code"] == "invalid_shop"


def test_the_callback_connects_stores_the_token_encrypted_registers_webhooks_and_syncs(
    client, rt, api_key, fake
):
    state = state_of(install(client, api_key))
    answer = client.get(f"/api/shopify/callback?{callback_query(state)}")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "connected" and body["webhooksRefused"] == []
    assert fake.codes == ["0907a61c0c8d55e99db179b68161bc00"]
    row = integration(rt)
    assert (row.provider, row.status, row.store_url) == (
        "shopify",
        "connected",
        f"https://{fx.SHOP}",
    )
    # Encrypted at rest: not in the column, but readable with the key.
    assert "shpat_" not in (row.access_token_ciphertext or "")
    assert integrations.access_token(row, rt.settings.secret_key) == "shpat_0123456789abcdef"
    assert integrations.access_token(row, "another-key") is None
    assert sorted(fake.topics) == sorted(t.upper().replace("/", "_") for t in plugin.SUBSCRIBED)
    assert fake.callbacks == {"https://storeflow.example.com/api/shopify/webhooks"}
    # The sync: two product pages by cursor (the first retried once after THROTTLED).
    assert fake.queries[:3] == ["products:None", "products:None", "products:1"]
    assert body["sync"]["products"]["items"] == 2
    with rt.reading() as session:
        assert len(session.scalars(select(ProductRow)).all()) == 2
        assert session.scalars(select(Subscriber.email)).all() == [fx.EMAIL]
        order = session.scalars(select(OrderRow)).one()
        assert (order.provider_order_id, order.total_cents) == (str(fx.ORDER_ID), 2000)
        # History: a synced order starts no automation.
        assert all(not e.live for e in session.scalars(select(Event)))


def test_a_manual_sync_reads_through_graphql_again(client, rt, api_key, fake):
    state = state_of(install(client, api_key))
    assert client.get(f"/api/shopify/callback?{callback_query(state)}").status_code == 200
    before = len(fake.queries)
    auth = {"Authorization": f"Bearer {api_key}"}
    answer = client.post("/api/shopify/sync", json={"shop": fx.SHOP}, headers=auth)
    assert answer.status_code == 200, answer.get_json()
    assert len(fake.queries) - before == 4  # two product pages, customers, orders
    other = "other.myshopify.com"
    missing = client.post("/api/shopify/sync", json={"shop": other}, headers=auth)
    assert missing.status_code == 404
    bad = client.post("/api/shopify/sync", json={"shop": "evil.example.com"}, headers=auth)
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["path"] == "$.shop"
    assert client.post("/api/shopify/sync", json={}, headers=auth).status_code == 422


# --- refusals -------------------------------------------------------------------------------


def test_a_tampered_query_hmac_is_refused(client, rt, api_key, fake):
    state = state_of(install(client, api_key))
    query = callback_query(state).replace("code=0907", "code=1907")
    answer = client.get(f"/api/shopify/callback?{query}")
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "invalid_hmac"
    signed_elsewhere = callback_query(state, secret="another-app")
    assert client.get(f"/api/shopify/callback?{signed_elsewhere}").status_code == 401
    assert fake.codes == []


def test_a_wrong_state_is_refused(client, rt, api_key, fake):
    state_of(install(client, api_key))
    for state in ("forged", "", state_of(install(client, api_key, "other-shop.myshopify.com"))):
        answer = client.get(f"/api/shopify/callback?{callback_query(state)}")
        assert answer.status_code == 401, state
        assert answer.get_json()["error"]["code"] == "invalid_state"
    assert fake.codes == []


def test_a_shop_that_is_not_myshopify_is_refused_even_when_signed(client, api_key, fake):
    state = state_of(install(client, api_key))
    answer = client.get(f"/api/shopify/callback?{callback_query(state, shop='evil.example.com')}")
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "invalid_shop"
    assert fake.codes == []


def test_missing_scopes_ask_for_a_reconnect(client, rt, api_key, fake):
    fake.scope = "read_products,read_orders"
    state = state_of(install(client, api_key))
    answer = client.get(f"/api/shopify/callback?{callback_query(state)}")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "reconnect_required"
    assert body["missingScopes"] == [
        "read_customers",
        "read_inventory",
        "read_checkouts",
        "read_discounts",
        "write_discounts",
    ]
    assert urlsplit(body["reconnectUrl"]).path == "/admin/oauth/authorize"
    assert integration(rt).status == "pending"
    assert fake.topics == []  # nothing registered on a half-granted token
    # Reconnecting with every scope connects the same integration.
    fake.scope = ALL_SCOPES
    again = client.get(
        f"/api/shopify/callback?{callback_query(state_of(install(client, api_key)))}"
    )
    assert again.get_json()["status"] == "connected"
    assert integration(rt).status == "connected"


def test_write_scopes_imply_read_scopes() -> None:
    assert oauth.missing_scopes(ALL_SCOPES) == []
    assert oauth.missing_scopes("write_products") == [
        s for s in oauth.REQUIRED_SCOPES if s != "read_products"
    ]


def test_shopify_being_down_is_a_502_not_a_500(client, rt, api_key, settings):
    rt_settings = attrs.evolve(rt.settings, shopify_base_url="http://127.0.0.1:9")
    object.__setattr__(rt, "settings", rt_settings)
    state = state_of(install(client, api_key))
    answer = client.get(f"/api/shopify/callback?{callback_query(state)}")
    assert answer.status_code == 502
    assert answer.get_json()["error"]["code"] == "shopify_unavailable"


def test_install_answers_json_to_an_admin_page(client, api_key, shopify):
    answer = client.get(
        f"/api/shopify/install?shop={fx.SHOP}",
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.get_json()["authorizeUrl"].startswith(f"{shopify.url}/admin/oauth/authorize?")


# --- the document ---------------------------------------------------------------------------


def test_shopify_answers_match_the_document(app, client, rt, api_key, fake):
    from tests.test_openapi import Conformance, _operations

    doc: dict[str, Any] = client.get("/api/openapi.json").get_json()
    check = Conformance(app, doc)
    auth = {"Authorization": f"Bearer {api_key}"}
    json_auth = {**auth, "Accept": "application/json"}
    check(client.get(f"/api/shopify/install?shop={fx.SHOP}", headers=json_auth))
    check(client.get("/api/shopify/install?shop=evil.example.com", headers=json_auth))  # 422
    state = state_of(install(client, api_key))
    check(client.get(f"/api/shopify/callback?{callback_query(state)}"))
    check(client.get(f"/api/shopify/callback?{callback_query(state, secret='wrong')}"))  # 401
    check(client.post("/api/shopify/sync", json={"shop": fx.SHOP}, headers=auth))
    check(client.post("/api/shopify/sync", json={"shop": "other.myshopify.com"}, headers=auth))
    body = fx.dumps(fx.order())
    headers = fx.headers("orders/create", body)
    check(client.post("/api/shopify/webhooks", data=body, headers=headers))
    check(
        client.post(
            "/api/shopify/webhooks", data=body, headers={**headers, "X-Shopify-Hmac-Sha256": "x"}
        )
    )
    check(client.get("/api/shopify/data-requests/4242", headers=auth))  # 404: none yet
    ours = {
        op["operationId"] for path, _, op in _operations(doc) if path.startswith("/api/shopify/")
    }
    assert ours and ours - check.seen == set()
