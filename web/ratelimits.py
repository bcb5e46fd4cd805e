"""The app's rate limiter (one per app) and the client address it counts by.

The address is ``request.remote_addr``. Behind reverse proxies, set
``STOREFLOW_PROXY_HOPS`` to their number: the app then takes the client from
``X-Forwarded-For`` through werkzeug's ``ProxyFix`` (``storeflow.web.app``), counting
that many hops from the right, so a client cannot pick its own bucket by sending the
header itself. Without it the header is ignored.

IPv6 clients are counted per /64 network: one subscriber line usually holds a whole
/64, and counting single addresses would let one client rotate through 2^64 of them.
"""

from __future__ import annotations

import ipaddress

from flask import current_app, request

from storeflow.core import ratelimit
from storeflow.web.runtime import rt

_KEY = "storeflow.ratelimit"
IPV6_PREFIX = 64


def limiter() -> ratelimit.Limiter:
    found = current_app.extensions.get(_KEY)
    if found is None:
        found = current_app.extensions[_KEY] = ratelimit.build(rt().settings)
    return found


def client_address() -> str:
    """The client's own address (what to record; limits count :func:`client_ip`)."""
    return request.remote_addr or "unknown"


def client_ip() -> str:
    """The rate-limit key of the client: its IPv4 address, or its IPv6 /64."""
    return bucket(client_address())


def bucket(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop a zone id (fe80::1%eth0)
    except ValueError:
        return address  # not an address (a unix socket, "unknown"): counted as is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def enforce(limit: ratelimit.Limit, key: str, message: str) -> None:
    ratelimit.enforce(limiter(), limit, key, message)
