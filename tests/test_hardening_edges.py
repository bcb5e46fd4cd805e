"""Oversized requests, proxies, IPv6 buckets, the in-memory limiter, SSRF wrappers (issue 16)."""

from __future__ import annotations

import ipaddress
import json
import socket
from datetime import timedelta
from typing import Any

import attrs
import pytest

from storeflow.core import clock, ratelimit
from storeflow.core.transport import outbound
from storeflow.web import errors
from storeflow.web.ratelimits import bucket
from storeflow.web.woocommerce_plugin import CONNECT_LIMIT
from tests.conftest import free_port
from tests.connecting import connect_payload
from tests.processes import process_env, start, stop, wait_http

# --- 414 and 431 in the contract's JSON ------------------------------------------------


def _json_error(response: Any) -> str:
    assert response.is_json, response.get_data()[:200]
    return response.get_json()["error"]["code"]


def test_a_long_request_line_is_a_json_414(client, tenant):
    response = client.get("/api/events?name=" + "a" * 5 * 1024, headers=tenant.auth)
    assert response.status_code == 414 and _json_error(response) == "uri_too_long"
    assert client.get("/api/events?name=" + "a" * 3000, headers=tenant.auth).status_code == 200


def test_oversized_headers_are_a_json_431(client, tenant):
    big = client.get("/api/events", headers={**tenant.auth, "X-Big": "b" * 9000})
    assert big.status_code == 431 and _json_error(big) == "headers_too_large"
    many = {f"X-H{i}": "v" for i in range(errors.MAX_HEADER_FIELDS + 1)}
    assert client.get("/api/events", headers={**tenant.auth, **many}).status_code == 431


def _raw_http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.slow
def test_gunicorn_lets_oversized_requests_reach_the_app(rt, tmp_path):
    """`storeflow serve`, started as the README says: JSON 414/431, not gunicorn's HTML."""
    port = free_port()
    log = tmp_path / "serve.log"
    web = start(["serve", "--port", str(port), "--workers", "1"], process_env(rt.settings), log)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        target = "/api/events?name=" + "a" * 5 * 1024
        status, headers, body = _raw_http(
            port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        assert status == 414 and headers["content-type"] == "application/json", body[:200]
        assert json.loads(body)["error"]["code"] == "uri_too_long"
        header = "X-Big: " + "b" * 12 * 1024
        status, headers, body = _raw_http(
            port,
            f"GET /api/events HTTP/1.1\r\nHost: x\r\n{header}\r\nConnection: close\r\n\r\n".encode(),
        )
        assert status == 431 and json.loads(body)["error"]["code"] == "headers_too_large"
    finally:
        stop(web)
    assert "Traceback" not in log.read_text()


# --- the client address behind proxies, IPv6 buckets -----------------------------------


def _connect(client: Any, remote: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        "/api/woocommerce/connect",
        json=connect_payload(),
        headers=headers,
        environ_base={"REMOTE_ADDR": remote},
    ).status_code


def _exhaust(client: Any, remote: str, forwarded: str | None = None) -> None:
    assert [_connect(client, remote, forwarded) for _ in range(CONNECT_LIMIT.count)] == [
        201
    ] * CONNECT_LIMIT.count


def test_behind_a_proxy_limits_key_on_the_forwarded_client(rt):
    from storeflow.web.app import create_app

    rt.settings = attrs.evolve(rt.settings, proxy_hops=1)
    client = create_app({"TESTING": True}, runtime=rt).test_client()
    proxy = "10.0.0.2"
    # The client may prepend anything; one hop means the proxy's own entry is the truth.
    _exhaust(client, proxy, "6.6.6.6, 203.0.113.7")
    assert _connect(client, proxy, "203.0.113.7") == 429
    assert _connect(client, proxy, "7.7.7.7, 203.0.113.7") == 429
    assert _connect(client, proxy, "198.51.100.9") == 201  # another client, same proxy


def test_without_proxy_hops_forwarded_for_is_ignored(client):
    _exhaust(client, "203.0.113.7", "1.1.1.1")
    assert _connect(client, "203.0.113.7", "2.2.2.2") == 429  # no bucket of its choosing


def test_ipv6_clients_share_a_bucket_per_64(client):
    for n in range(CONNECT_LIMIT.count):
        assert _connect(client, f"2001:db8:1:2::{n + 1:x}") == 201
    assert _connect(client, "2001:db8:1:2:ffff:ffff:ffff:ffff") == 429
    assert _connect(client, "2001:db8:1:3::1") == 201


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
    ],
)
def test_bucket(address, key):
    assert bucket(address) == key


# --- the in-memory limiter ----------------------------------------------------------------


def test_memory_limiter_drops_whole_expired_windows():
    limiter = ratelimit.MemoryLimiter()
    limit = ratelimit.Limit("flood", count=1, seconds=60)
    other = ratelimit.Limit("other", count=1, seconds=3600)
    for n in range(1000):
        limiter.hit(limit, f"client-{n}")
    limiter.hit(other, "kept")
    assert limiter.size() == 1001
    assert limiter.hit(limit, "client-1") is not None  # still counted in its window
    clock.travel(timedelta(seconds=limit.seconds))
    assert limiter.hit(limit, "client-1") is None  # a new window ...
    assert limiter.size() == 2  # ... and the thousand old counters are gone; "other" kept


# --- SSRF: IPv4 inside IPv6 ---------------------------------------------------------------


def _teredo(server: str, client: str) -> ipaddress.IPv6Address:
    """2001:0::/32, the server's IPv4, flags and port, then the client's IPv4 inverted."""
    server_bits = int(ipaddress.IPv4Address(server))
    client_bits = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return ipaddress.IPv6Address((0x20010000 << 96) | (server_bits << 64) | client_bits)


def _sixtofour(inner: str) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(inner)) << 80))


@pytest.mark.parametrize("inner", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1"])
def test_ipv4_wrapped_in_ipv6_is_checked_as_ipv4(inner):
    wrapped = [
        _sixtofour(inner),
        _teredo("8.8.8.8", inner),
        _teredo(inner, "8.8.4.4"),
        ipaddress.IPv6Address("64:ff9b::" + inner),
        ipaddress.IPv6Address("::ffff:" + inner),
    ]
    for address in wrapped:
        assert not outbound.is_public(address), address
        with pytest.raises(outbound.BlockedURL):
            outbound.check_address(address)


def test_public_ipv4_wrapped_in_ipv6_is_public():
    assert outbound.is_public(_sixtofour("8.8.8.8"))
    assert outbound.is_public(ipaddress.IPv6Address("64:ff9b::808:808"))
    assert outbound.embedded_ipv4(_teredo("8.8.8.8", "1.1.1.1")) == [
        ipaddress.IPv4Address("8.8.8.8"),
        ipaddress.IPv4Address("1.1.1.1"),
    ]


def test_a_webhook_url_to_a_6to4_loopback_is_blocked(monkeypatch):
    monkeypatch.delenv(outbound.ALLOW_ENV, raising=False)
    with pytest.raises(outbound.BlockedURL):
        outbound.resolve(f"http://[{_sixtofour('127.0.0.1')}]:6379/")
