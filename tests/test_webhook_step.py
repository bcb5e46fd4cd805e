"""Webhook steps: Standard Webhooks signatures, retries, and the SSRF guard."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import pytest
from standardwebhooks.webhooks import Webhook

from storeflow.core.transport import outbound
from tests.rulekit import ORDER, advance, define, emit, ledger, line, order, runs, sequence


@attrs.define
class Receiver:
    url: str
    requests: list[dict[str, Any]]
    statuses: list[int]  # answered in turn; the last one repeats


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got: list[dict[str, Any]] = []
    statuses = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
            self.send_response(status)
            if status in (301, 302):
                self.send_header("Location", "http://127.0.0.1:1/internal")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks/refill", got, statuses)
    finally:
        server.shutdown()


@pytest.fixture
def allow_local(monkeypatch):
    monkeypatch.setenv(outbound.ALLOW_ENV, "127.0.0.1")


def webhook_flow(rt, company_id: int, url: str) -> None:
    define(
        rt, company_id, sequence("hook", steps=[{"webhook": {"url": url}}, {"tag": {"add": ["t"]}}])
    )


def test_the_call_is_signed_with_standard_webhooks(rt, client, tenant, receiver, allow_local):
    webhook_flow(rt, tenant.company_id, receiver.url)
    emit(rt, tenant.company_id, ORDER, properties=order(line("501")))
    (request,) = receiver.requests
    assert request["path"] == "/hooks/refill"
    secret = client.get("/api/settings/webhook-signing-secret", headers=tenant.auth).get_json()
    secret = secret["webhookSigningSecret"]
    assert secret.startswith("whsec_")
    payload = Webhook(secret).verify(request["body"], request["headers"])
    assert payload["type"] == "sequence.step"
    data = payload["data"]
    assert data["sequence"] == "hook" and data["step"] == 0
    assert data["subscriber"]["email"] == "ana@example.com"
    assert data["event"]["name"] == ORDER
    assert data["event"]["properties"]["lineItems"][0]["providerProductId"] == "501"
    (row,) = ledger(rt, tenant.company_id)
    assert row.channel == "webhook" and row.status == "sent"
    assert request["headers"]["webhook-id"].startswith("msg_sf_")
    assert runs(rt, tenant.company_id)[0].status == "completed"
    with pytest.raises(Exception):  # noqa: B017 - any verification error
        Webhook("whsec_" + "A" * 43).verify(request["body"], request["headers"])


def test_a_failing_receiver_is_retried_with_the_same_webhook_id(rt, tenant, receiver, allow_local):
    receiver.statuses[:] = [503, 200]
    webhook_flow(rt, tenant.company_id, receiver.url)
    emit(rt, tenant.company_id, ORDER)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "queued" and "answered 503" in row.reason
    advance(rt, minutes=2)
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "sent" and row.attempts == 2


@pytest.mark.parametrize("status", [400, 404, 302])
def test_a_refusal_or_a_redirect_fails_without_retry(rt, tenant, receiver, allow_local, status):
    receiver.statuses[:] = [status]
    webhook_flow(rt, tenant.company_id, receiver.url)
    emit(rt, tenant.company_id, ORDER)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "failed" and f"answered {status}" in row.reason
    assert len(receiver.requests) == 1  # the redirect was not followed
    assert runs(rt, tenant.company_id)[0].status == "completed"


def test_a_private_address_is_refused_without_the_allowlist(rt, tenant, receiver, monkeypatch):
    monkeypatch.delenv(outbound.ALLOW_ENV, raising=False)
    webhook_flow(rt, tenant.company_id, receiver.url)
    emit(rt, tenant.company_id, ORDER)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "failed" and "127.0.0.1 is not a public address" in row.reason
    assert receiver.requests == []


# --- the guard on its own ------------------------------------------------------------------


def _resolving_to(monkeypatch, *addresses: str) -> None:
    def fake(host, port, *args, **kwargs):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake)


BLOCKED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "fd12:3456::1",
    "fe80::1",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_internal_addresses_are_blocked(monkeypatch, address):
    monkeypatch.delenv(outbound.ALLOW_ENV, raising=False)
    _resolving_to(monkeypatch, address)
    with pytest.raises(outbound.BlockedURL, match="not a public address"):
        outbound.resolve("https://hooks.example.com/x")


def test_every_resolved_address_is_checked(monkeypatch):
    monkeypatch.delenv(outbound.ALLOW_ENV, raising=False)
    _resolving_to(monkeypatch, "93.184.215.14", "10.1.1.1")  # a rebinding-style answer
    with pytest.raises(outbound.BlockedURL):
        outbound.resolve("https://hooks.example.com/x")


def test_public_addresses_pass_and_the_checked_address_is_used(monkeypatch):
    _resolving_to(monkeypatch, "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    host, port, addresses = outbound.resolve("https://hooks.example.com:8443/x")
    assert (host, port) == ("hooks.example.com", 8443)
    assert addresses[0] == ipaddress.ip_address("93.184.215.14")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "gopher://x"]
)
def test_only_http_urls(url):
    with pytest.raises(outbound.BlockedURL):
        outbound.resolve(url)


def test_the_allowlist_takes_addresses_and_networks(monkeypatch):
    _resolving_to(monkeypatch, "10.20.30.40")
    monkeypatch.setenv(outbound.ALLOW_ENV, "127.0.0.1, 10.20.0.0/16")
    outbound.resolve("http://internal.example/x")
    monkeypatch.setenv(outbound.ALLOW_ENV, "not-an-address")
    with pytest.raises(outbound.BlockedURL):
        outbound.resolve("http://internal.example/x")


def test_the_payload_is_json(rt, tenant, receiver, allow_local):
    webhook_flow(rt, tenant.company_id, receiver.url)
    emit(rt, tenant.company_id, ORDER)
    (request,) = receiver.requests
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"])["data"]["enrollmentId"] == runs(rt, tenant.company_id)[0].id
