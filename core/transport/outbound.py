"""Outbound HTTP to tenant-supplied URLs, guarded against SSRF.

A tenant writes the URL (a sequence's ``webhook`` step), storeflow's workers call it.
Without a guard that is a way into the operator's network (``http://127.0.0.1:6379``,
``http://169.254.169.254/`` cloud metadata, RFC 1918 services). So:

- only ``http`` and ``https``;
- the host is resolved once and **every** address it resolves to must be public:
  not private, loopback, link-local, multicast, reserved, unspecified or shared
  (CGNAT), also when hidden in an IPv6 address that carries an IPv4 one: IPv4-mapped
  (``::ffff:127.0.0.1``), 6to4 (``2002:7f00:1::``, whose relay delivers to the IPv4
  address), Teredo (``2001:0:...``: server and client) and NAT64 (``64:ff9b::/96``);
- the connection goes to the address that was checked (no second lookup that a
  DNS-rebinding name could answer differently); TLS still verifies the hostname;
- redirects are not followed (a public URL could redirect inside);
- bounded time and response size.

Operators may allow specific private addresses or networks with
``STOREFLOW_WEBHOOK_ALLOW_PRIVATE`` (comma-separated, e.g. ``127.0.0.1`` or
``10.0.0.0/8``), read at call time; tests use it for a local receiver.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
from urllib.parse import urlsplit

import attrs

ALLOW_ENV = "STOREFLOW_WEBHOOK_ALLOW_PRIVATE"
MAX_RESPONSE_BYTES = 64 * 1024

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedURL(ValueError):
    """The URL may not be called: bad scheme, unresolvable, or a non-public address."""


@attrs.frozen
class Response:
    status: int
    body: bytes


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in os.environ.get(ALLOW_ENV, "").split(","):
        item = item.strip()
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                continue  # a typo in the allowlist allows nothing, never everything
    return networks


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # (server, client): traffic reaches both
    if any(address in network for network in _NAT64):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: Address) -> bool:
    inner = embedded_ipv4(address)
    if inner:
        # The wrapper is only a route to the IPv4 address: that address decides.
        return all(is_public(ipv4) for ipv4 in inner)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED)
    )


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not "private" in Python


def check_address(address: Address) -> None:
    if is_public(address):
        return
    if any(address in network for network in allowed_networks()):
        return
    raise BlockedURL(f"{address} is not a public address (private, loopback or link-local)")


def resolve(url: str) -> tuple[str, int, list[Address]]:
    """(host, port, checked addresses) of ``url``, or :class:`BlockedURL`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedURL("only http:// and https:// URLs with a host can be called")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BlockedURL("the URL's port is not a number") from None
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise BlockedURL(f"cannot resolve {host}: {error}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise BlockedURL(f"{host} resolves to no address")
    for address in addresses:  # every address: a name may mix public and private ones
        check_address(address)
    return host, port, addresses


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=tls)
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10.0) -> Response:
    """POST ``body`` to ``url`` after the checks above; any status is returned, not raised.

    Raises :class:`BlockedURL`, or ``OSError`` when the connection fails.
    """
    host, port, addresses = resolve(url)
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    connection_class = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = connection_class(host, port, str(addresses[0]), timeout)
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        return Response(response.status, response.read(MAX_RESPONSE_BYTES))
    finally:
        connection.close()
