"""The app's rate limiter (one per app) and the client address it counts by.

The address is ``request.remote_addr``: behind a reverse proxy, deploy with
werkzeug's ``ProxyFix`` (or gunicorn's ``forwarded_allow_ips``) so that it is the
client's, not the proxy's; trusting ``X-Forwarded-For`` blindly would let anyone
pick their own bucket.
"""

from __future__ import annotations

from flask import current_app, request

from storeflow.core import ratelimit
from storeflow.web.runtime import rt

_KEY = "storeflow.ratelimit"


def limiter() -> ratelimit.Limiter:
    found = current_app.extensions.get(_KEY)
    if found is None:
        found = current_app.extensions[_KEY] = ratelimit.build(rt().settings)
    return found


def client_ip() -> str:
    return request.remote_addr or "unknown"


def enforce(limit: ratelimit.Limit, key: str, message: str) -> None:
    ratelimit.enforce(limiter(), limit, key, message)
