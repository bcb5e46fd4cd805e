"""Shopify's two HMAC schemes (wire-formats.md B2), compared in constant time.

- Webhooks: ``X-Shopify-Hmac-Sha256`` is the **base64** HMAC-SHA256 of the raw body
  bytes with the app's client secret. Verified over the bytes as received, never over
  re-serialised JSON (bodies come with and without ``\\/`` escaping).
- The OAuth redirect: the ``hmac`` query parameter is the **hex** HMAC-SHA256 of the
  other parameters, sorted by name, as ``name=value`` joined with ``&``.

Both accept the previous secret too, so that a secret can be rotated without losing
deliveries signed just before the switch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping

HEADERS = ("x-shopify-hmac-sha256", "shopify-hmac-sha256")


def sign(body: bytes, secret: str) -> str:
    """The header value Shopify sends for ``body`` under ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body: bytes, header_value: str | None, secrets: Iterable[str]) -> bool:
    if not header_value:
        return False
    given = header_value.strip().encode("utf-8")
    # Every secret is compared (no early exit), so timing does not tell which matched.
    matched = False
    for secret in secrets:
        if secret:
            matched |= hmac.compare_digest(sign(body, secret).encode("ascii"), given)
    return matched


def query_message(params: Mapping[str, str]) -> str:
    """What the OAuth ``hmac`` covers: every other parameter, sorted, ``k=v&k=v``."""
    return "&".join(
        f"{name}={value}"
        for name, value in sorted(params.items())
        if name not in ("hmac", "signature")
    )


def sign_query(params: Mapping[str, str], secret: str) -> str:
    message = query_message(params).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_query(params: Mapping[str, str], secrets: Iterable[str]) -> bool:
    given = (params.get("hmac") or "").strip().lower().encode("utf-8")
    if not given:
        return False
    matched = False
    for secret in secrets:
        if secret:
            matched |= hmac.compare_digest(sign_query(params, secret).encode("ascii"), given)
    return matched
