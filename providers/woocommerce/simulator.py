"""A WooCommerce plugin simulator: the store side of storeflow's plugin protocol, over real HTTP.

It does what the WordPress plugin does: asks to connect, polls until a company
admin approves, then heartbeats, runs the sync commands it receives by paging a
sample store through ``POST /api/woocommerce/sync/<resource>``, acknowledges
them, sends native WooCommerce webhooks, plays cart and checkout sessions through
``POST /api/woocommerce/events`` (anonymous, then identified at the checkout; left
abandoned, or recovered by an order), and disconnects. Every plugin request is
signed with ``storeflow.plugin_client`` (bearer installation token + Standard
Webhooks), webhooks with the WooCommerce HMAC (``samples.webhook_headers``).
HTTP goes through the standard library: the simulator ships with the product.

Used by the end-to-end tests and by ``storeflow simulate woocommerce`` (registered
through the WooCommerce plugin's ``register_commands`` hook), so a developer can
watch a store connect to a local storeflow without WordPress.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import attrs
import click

from storeflow import plugin_client
from storeflow.providers.woocommerce import samples

SYNC_RESOURCES = ("products", "customers", "orders")

# What a request can fail with before storeflow answers (refused, reset, timed out).
TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


# --- HTTP ---------------------------------------------------------------------------


@attrs.frozen
class Response:
    """An HTTP answer, whatever its status (4xx and 5xx are answers too)."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Response:
    """Send one request; raises only when no answer came (``TRANSPORT_ERRORS``)."""
    prepared = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as answer:
            return Response(answer.status, dict(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as refused:
        with refused:
            return Response(refused.code, dict(refused.headers.items()), refused.read())


class SimulatorError(RuntimeError):
    """storeflow answered something the plugin did not expect."""

    def __init__(self, what: str, response: Response) -> None:
        self.status = response.status_code
        try:
            self.body: Any = response.json()
        except ValueError:
            self.body = response.text[:500]
        super().__init__(f"{what}: HTTP {self.status} {self.body}")


# --- the store's data ---------------------------------------------------------------


@attrs.define
class SampleStore:
    """Products, customers and orders as WooCommerce REST v3 objects, paged like the plugin."""

    store_url: str
    currency: str = "USD"
    products: list[dict[str, Any]] = attrs.Factory(list)
    customers: list[dict[str, Any]] = attrs.Factory(list)
    orders: list[dict[str, Any]] = attrs.Factory(list)

    @classmethod
    def generate(
        cls,
        store_url: str = samples.STORE_URL,
        *,
        products: int = 3,
        customers: int = 2,
        orders: int = 2,
        currency: str = "USD",
    ) -> SampleStore:
        base = store_url.rstrip("/") + "/"
        made_products = [
            samples.product_simple(
                id=1000 + n,
                name=f"Product {n}",
                sku=f"SKU-{n}",
                price=f"{10 + n}.00",
                store_url=base,
            )
            for n in range(products)
        ]
        made_customers = [
            samples.customer(
                id=500 + n, email=f"customer{n}@example.com", first_name=f"C{n}", store_url=base
            )
            for n in range(customers)
        ]
        made_orders = [
            samples.order(
                id=9000 + n,
                currency=currency,
                customer_id=500 + (n % customers) if customers else 0,
                email=f"customer{n % customers if customers else n}@example.com",
                line_items=[
                    samples.line_item(
                        id=n + 1,
                        product_id=1000 + (n % products) if products else 1000,
                        name=f"Product {n % products if products else 0}",
                        quantity=1,
                        unit_price=f"{10 + (n % products if products else 0)}.00",
                        currency=currency,
                    )
                ],
                store_url=base,
            )
            for n in range(orders)
        ]
        return cls(store_url.rstrip("/"), currency, made_products, made_customers, made_orders)

    def items(self, resource: str) -> list[dict[str, Any]]:
        return {"products": self.products, "customers": self.customers, "orders": self.orders}[
            resource
        ]

    def pages(self, resource: str, size: int) -> list[list[dict[str, Any]]]:
        """At least one page (an empty store still says ``isLast``)."""
        items = self.items(resource)
        return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


# --- cart and checkout sessions ---------------------------------------------------------

CartOutcome = Literal["abandoned", "recovered"]


def cart_session_events(
    store: SampleStore,
    *,
    session_key: str,
    email: str,
    at: datetime,
    checkout: bool = True,
    pause: timedelta = timedelta(minutes=1),
) -> list[dict[str, Any]]:
    """What the plugin reports for one shopping session, in order: a guest adds a product
    (anonymous), adds a second one, then gives ``email`` at the checkout (or, with
    ``checkout=False``, on the cart page: a cart update that names them)."""
    products = store.products or [samples.product_simple(store_url=store.store_url + "/")]
    pairs = zip(products[:2], (1, 2), strict=False)
    lines = [_cart_line(product, quantity) for product, quantity in pairs]
    url = f"{store.store_url}/checkout/?session={session_key}"
    events = [
        _cart_event(session_key, "cart_started", at, None, lines[:1], store.currency),
        _cart_event(session_key, "cart_updated", at + pause, None, lines, store.currency),
    ]
    last = at + 2 * pause
    if checkout:
        events.append(
            _cart_event(session_key, "checkout_started", last, email, lines, store.currency)
            | {"checkoutUrl": url}
        )
    else:
        events.append(_cart_event(session_key, "cart_updated", last, email, lines, store.currency))
    return events


def _cart_line(product: dict[str, Any], quantity: int) -> dict[str, Any]:
    price = Decimal(str(product.get("price") or "10.00"))
    cents = int(price * 100) * quantity
    return {
        "productId": product["id"],
        "variationId": 0,
        "quantity": quantity,
        "lineTotal": f"{cents // 100}.{cents % 100:02d}",
        "name": product.get("name") or "",
    }


def _cart_event(
    session_key: str,
    kind: str,
    at: datetime,
    email: str | None,
    lines: list[dict[str, Any]],
    currency: str,
) -> dict[str, Any]:
    cents = sum(int(line["lineTotal"].replace(".", "")) for line in lines)
    return {
        "id": "evt_" + uuid.uuid4().hex[:16],
        "type": kind,
        "occurredAt": at.astimezone(UTC).isoformat(),
        "sessionKey": session_key,
        "email": email,
        "customerId": 0,
        "cart": {
            "items": lines,
            "total": f"{cents // 100}.{cents % 100:02d}",
            "currency": currency,
        },
    }


@attrs.frozen
class CartPlay:
    """One played session: what was sent and how storeflow answered."""

    session_key: str
    email: str
    outcome: CartOutcome
    accepted: int
    order_id: int | None = None
    order_status: int | None = None


# --- protocol state -----------------------------------------------------------------


@attrs.frozen
class ConnectStart:
    connect_request_id: str
    poll_token: str = attrs.field(repr=False)
    authorize_url: str
    expires_at: str
    poll_interval: float


@attrs.frozen(repr=False)  # never print secrets by accident
class Credentials:
    installation_token: str
    signing_secret: str
    webhook_secret: str
    integration_id: str
    company_id: int

    def __repr__(self) -> str:
        return f"Credentials(integration_id={self.integration_id!r}, company_id={self.company_id})"


class WooCommerceSimulator:
    """One simulated plugin installation talking to storeflow at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        store: SampleStore | None = None,
        *,
        site_name: str = "Simulated Store",
        plugin_version: str = "1.0.0",
        wp_version: str = "6.8.3",
        wc_version: str = samples.WC_VERSION,
        timezone: str = "UTC",
        page_size: int = 100,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.store = store or SampleStore.generate()
        self.site_name = site_name
        self.plugin_version = plugin_version
        self.wp_version = wp_version
        self.wc_version = wc_version
        self.timezone = timezone
        self.page_size = page_size
        self.timeout = timeout
        self.start: ConnectStart | None = None
        self.credentials: Credentials | None = None

    # --- plumbing -------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def post_json(self, path: str, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return request(
            "POST",
            self._url(path),
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=self.timeout,
        )

    def signed_post(self, path: str, payload: Any, **sign_options: Any) -> Response:
        """A plugin request with this installation's token and signature (not checked)."""
        creds = self._creds()
        body, headers = plugin_client.signed(
            creds.installation_token, creds.signing_secret, payload, **sign_options
        )
        return request("POST", self._url(path), body=body, headers=headers, timeout=self.timeout)

    def _creds(self) -> Credentials:
        if self.credentials is None:
            raise RuntimeError("not connected: connect and wait for approval first")
        return self.credentials

    @staticmethod
    def _expect(what: str, response: Response, *statuses: int) -> dict[str, Any]:
        if response.status_code not in statuses:
            raise SimulatorError(what, response)
        answer = response.json()
        if not isinstance(answer, dict):
            raise SimulatorError(what, response)
        return answer

    # --- connecting -----------------------------------------------------------------

    def connect(self) -> ConnectStart:
        """Click "Connect": create a connect request; open ``authorize_url`` to approve it."""
        answer = self._expect(
            "connect",
            self.post_json(
                "/api/woocommerce/connect",
                {
                    "storeUrl": self.store.store_url,
                    "siteName": self.site_name,
                    "pluginVersion": self.plugin_version,
                    "wpVersion": self.wp_version,
                    "wcVersion": self.wc_version,
                    "currency": self.store.currency,
                    "timezone": self.timezone,
                },
            ),
            201,
        )
        self.start = ConnectStart(
            connect_request_id=answer["connectRequestId"],
            poll_token=answer["pollToken"],
            authorize_url=answer["authorizeUrl"],
            expires_at=answer["expiresAt"],
            poll_interval=float(answer["pollIntervalSeconds"]),
        )
        return self.start

    def poll_response(self) -> Response:
        if self.start is None:
            raise RuntimeError("call connect() first")
        return self.post_json(
            "/api/woocommerce/connect/poll",
            {"connectRequestId": self.start.connect_request_id, "pollToken": self.start.poll_token},
        )

    def poll(self) -> str:
        """Poll once; on approval keep the credentials. Returns the status."""
        answer = self._expect("poll", self.poll_response(), 200)
        if answer["status"] == "approved":
            self.credentials = Credentials(
                installation_token=answer["installationToken"],
                signing_secret=answer["signingSecret"],
                webhook_secret=answer["webhookSecret"],
                integration_id=answer["integrationId"],
                company_id=answer["companyId"],
            )
        return str(answer["status"])

    def wait_for_approval(self, timeout: float = 900.0, interval: float | None = None) -> str:
        """Poll until the request is decided or expires; returns the final status."""
        deadline = time.monotonic() + timeout
        pause = (
            interval if interval is not None else (self.start.poll_interval if self.start else 5)
        )
        while True:
            status = self.poll()
            if status != "pending" or time.monotonic() >= deadline:
                return status
            time.sleep(pause)

    def approve_with_api_key(self, api_key: str) -> dict[str, Any]:
        """The operator route, for scripted runs without a browser."""
        if self.start is None:
            raise RuntimeError("call connect() first")
        response = request(
            "POST",
            self._url(f"/api/connect-requests/{self.start.connect_request_id}/approve"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=self.timeout,
        )
        return self._expect("approve", response, 200)

    # --- a connected plugin ---------------------------------------------------------

    def heartbeat(
        self, *, queue: dict[str, int] | None = None, last_error: str | None = None
    ) -> list[dict[str, Any]]:
        """Report versions and queue state; returns the commands storeflow hands out."""
        answer = self._expect(
            "heartbeat",
            self.signed_post(
                "/api/woocommerce/heartbeat",
                {
                    "pluginVersion": self.plugin_version,
                    "wpVersion": self.wp_version,
                    "wcVersion": self.wc_version,
                    "storeUrl": self.store.store_url,
                    "queue": queue or {"pending": 0, "failed": 0},
                    "lastError": last_error,
                },
            ),
            200,
        )
        commands: list[dict[str, Any]] = answer["commands"]
        return commands

    def ack(self, command_id: str, status: str, detail: str | None = None) -> dict[str, Any]:
        return self._expect(
            f"ack {status}",
            self.signed_post(
                f"/api/woocommerce/commands/{command_id}/ack", {"status": status, "detail": detail}
            ),
            200,
        )

    def sync_resource(self, resource: str) -> list[dict[str, Any]]:
        """Send one resource in pages (one sync run); returns storeflow's answers."""
        run_id = "run_" + uuid.uuid4().hex[:16]
        pages = self.store.pages(resource, self.page_size)
        answers = []
        for number, items in enumerate(pages, start=1):
            response = self.signed_post(
                f"/api/woocommerce/sync/{resource}",
                {
                    "syncRunId": run_id,
                    "page": number,
                    "isLast": number == len(pages),
                    "items": items,
                },
            )
            answers.append(self._expect(f"sync {resource} page {number}", response, 200))
        return answers

    def run_command(self, command: dict[str, Any], *, send_data: bool = True) -> str:
        """Do what a command asks and acknowledge it; returns ``completed`` or ``failed``."""
        self.ack(command["id"], "started")
        if command.get("type") != "sync":
            self.ack(command["id"], "failed", f"unknown command type {command.get('type')!r}")
            return "failed"
        counts = []
        try:
            for resource in command.get("resources") or SYNC_RESOURCES:
                if send_data:
                    answers = self.sync_resource(resource)
                    failed = sum(len(a.get("failed") or []) for a in answers)
                    sent = len(self.store.items(resource))
                    counts.append(f"{resource}: {sent} sent, {failed} failed")
                else:
                    counts.append(f"{resource}: skipped")
        except SimulatorError as exc:
            self.ack(command["id"], "failed", str(exc)[:1000])
            return "failed"
        self.ack(command["id"], "completed", "; ".join(counts))
        return "completed"

    def send_webhook(self, topic: str, payload: dict[str, Any] | bytes) -> Response:
        """A native WooCommerce webhook, signed with the webhook secret, as WooCommerce sends it."""
        creds = self._creds()
        body = payload if isinstance(payload, bytes) else samples.php_json(payload)
        headers = samples.webhook_headers(
            topic, body, creds.webhook_secret, source=self.store.store_url + "/"
        )
        return request(
            "POST",
            self._url(f"/api/woocommerce/webhooks/{creds.integration_id}"),
            body=body,
            headers=headers,
            timeout=self.timeout,
        )

    def send_cart_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """One batch of cart and checkout events; returns ``{accepted, duplicates, failed}``."""
        return self._expect(
            "cart events", self.signed_post("/api/woocommerce/events", {"events": events}), 200
        )

    def play_cart_session(
        self,
        email: str,
        *,
        outcome: CartOutcome = "abandoned",
        checkout: bool = True,
        at: datetime | None = None,
        session_key: str | None = None,
        order_id: int | None = None,
    ) -> CartPlay:
        """A guest's cart, identified at the checkout; left there (``abandoned``), or
        bought (``recovered``): the order's native webhook, then the emptied cart, as
        WooCommerce empties it after the order. One batch per event, as the plugin's
        queue sends them."""
        key = session_key or "wc_session_" + uuid.uuid4().hex[:12]
        start = at or datetime.now(UTC)
        events = cart_session_events(
            self.store, session_key=key, email=email, at=start, checkout=checkout
        )
        accepted = sum(self.send_cart_events([item])["accepted"] for item in events)
        if outcome == "abandoned":
            return CartPlay(key, email, outcome, accepted)
        bought_at = datetime.fromisoformat(events[-1]["occurredAt"]) + timedelta(minutes=1)
        number = order_id or 20000 + int(uuid.uuid4().int % 10000)
        placed = samples.guest_order(
            id=number,
            email=email,
            currency=self.store.currency,
            line_items=[
                samples.line_item(
                    id=index + 1,
                    product_id=int(line["productId"]),
                    name=line["name"],
                    quantity=line["quantity"],
                    unit_price=_unit_price(line),
                    currency=self.store.currency,
                    sku=None,
                )
                for index, line in enumerate(events[-1]["cart"]["items"])
            ],
            date_created_gmt=bought_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            store_url=self.store.store_url + "/",
        )
        status = self.send_webhook("order.created", placed).status_code
        cleared = _cart_event(key, "cart_cleared", bought_at, email, [], self.store.currency)
        accepted += self.send_cart_events([cleared])["accepted"]
        return CartPlay(key, email, outcome, accepted, number, status)

    def disconnect(self, reason: str = "disconnected in WordPress") -> dict[str, Any]:
        answer = self._expect(
            "disconnect",
            self.signed_post("/api/woocommerce/disconnect", {"reason": reason}),
            200,
        )
        return answer


def _unit_price(line: dict[str, Any]) -> str:
    cents = int(str(line["lineTotal"]).replace(".", "")) // max(int(line["quantity"]), 1)
    return f"{cents // 100}.{cents % 100:02d}"


# --- storeflow simulate woocommerce ----------------------------------------------------


def register_cli(cli: click.Group) -> None:
    """Add ``storeflow simulate woocommerce`` (and the ``simulate`` group when missing)."""
    group = cli.commands.get("simulate")
    if not isinstance(group, click.Group):

        @cli.group("simulate")
        def simulate() -> None:
            """Simulate store plugins against a running storeflow."""

        group = simulate
    group.add_command(simulate_woocommerce)


@click.command("woocommerce")
@click.option("--url", default=None, help="storeflow's base URL [default: STOREFLOW_BASE_URL].")
@click.option("--store-url", default="https://simulated-store.example.com", show_default=True)
@click.option("--site-name", default="Simulated Store", show_default=True)
@click.option("--api-key", default=None, help="Approve with this admin key instead of a browser.")
@click.option("--products", default=5, show_default=True)
@click.option("--customers", default=3, show_default=True)
@click.option("--orders", default=3, show_default=True)
@click.option("--page-size", default=100, show_default=True)
@click.option("--heartbeats", default=1, show_default=True, help="Heartbeats to send.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between heartbeats.")
@click.option("--no-data", is_flag=True, help="Acknowledge syncs without sending store data.")
@click.option("--webhooks", is_flag=True, help="Send one native webhook per resource at the end.")
@click.option(
    "--carts",
    default=0,
    show_default=True,
    help="Cart sessions to play (anonymous, then identified at the checkout).",
)
@click.option(
    "--recover-every",
    default=2,
    show_default=True,
    help="Every Nth cart session ends with an order (0: none); the others are abandoned.",
)
@click.option(
    "--backdate-minutes",
    default=0,
    show_default=True,
    help="Date the cart sessions this long ago (their events settle at once).",
)
@click.option("--disconnect", "disconnect_at_end", is_flag=True, help="Disconnect at the end.")
@click.option("--timeout", default=900.0, show_default=True, help="Seconds to wait for approval.")
def simulate_woocommerce(
    url: str | None,
    store_url: str,
    site_name: str,
    api_key: str | None,
    products: int,
    customers: int,
    orders: int,
    page_size: int,
    heartbeats: int,
    interval: float,
    no_data: bool,
    webhooks: bool,
    carts: int,
    recover_every: int,
    backdate_minutes: int,
    disconnect_at_end: bool,
    timeout: float,
) -> None:
    """Connect a simulated WooCommerce store, run the syncs it is sent, and report."""
    base = url or os.environ.get("STOREFLOW_BASE_URL") or "http://127.0.0.1:8000"
    store = SampleStore.generate(store_url, products=products, customers=customers, orders=orders)
    sim = WooCommerceSimulator(base, store, site_name=site_name, page_size=page_size)
    try:
        start = sim.connect()
        click.echo(f"connect request {start.connect_request_id}")
        if api_key:
            sim.approve_with_api_key(api_key)
            click.echo("approved with the API key")
        else:
            click.echo(f"open this page, sign in and approve:\n  {start.authorize_url}")
        status = sim.wait_for_approval(timeout)
        if status != "approved" or sim.credentials is None:
            raise click.ClickException(f"the connect request ended {status}")
        click.echo(f"connected: integration {sim.credentials.integration_id}")
        for beat in range(heartbeats):
            if beat:
                time.sleep(interval)
            received = sim.heartbeat()
            click.echo(f"heartbeat {beat + 1}: {len(received)} command(s)")
            for command in received:
                outcome = sim.run_command(command, send_data=not no_data)
                click.echo(f"  {command['type']} {command['id']}: {outcome}")
        if webhooks:
            for topic, payload in (
                ("product.updated", store.products[0] if store.products else None),
                ("customer.updated", store.customers[0] if store.customers else None),
                ("order.updated", store.orders[0] if store.orders else None),
            ):
                if payload is not None:
                    response = sim.send_webhook(topic, payload)
                    click.echo(f"webhook {topic}: HTTP {response.status_code}")
        start_at = datetime.now(UTC) - timedelta(minutes=backdate_minutes)
        for number in range(1, carts + 1):
            recovered = bool(recover_every) and number % recover_every == 0
            play = sim.play_cart_session(
                f"shopper{number}@example.com",
                outcome="recovered" if recovered else "abandoned",
                at=start_at,
            )
            ending = (
                f"recovered by order {play.order_id} (HTTP {play.order_status})"
                if play.outcome == "recovered"
                else "left at the checkout"
            )
            click.echo(
                f"cart {play.session_key} ({play.email}): "
                f"{play.accepted} event(s) accepted, {ending}"
            )
        if disconnect_at_end:
            sim.disconnect("simulation finished")
            click.echo("disconnected")
    except (SimulatorError, *TRANSPORT_ERRORS) as exc:
        raise click.ClickException(str(exc)) from exc
