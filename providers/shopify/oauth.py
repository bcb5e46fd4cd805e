"""Shopify OAuth (authorization code grant): shop domains, the authorize URL, scopes.

Pure functions; the HTTP calls are in ``admin_api`` and the routes in
``storeflow.web.shopify``.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

# sequenzy-spec.md 1.4: what storeflow needs (stock webhooks need read_inventory).
REQUIRED_SCOPES = (
    "read_customers",
    "read_orders",
    "read_products",
    "read_inventory",
    "read_checkouts",
    "read_discounts",
    "write_discounts",
)

# A shop's permanent domain: one DNS label under myshopify.com, nothing else (no
# custom domains, no ports, paths, user info or look-alike suffixes).
_SHOP = re.compile(r"[a-z0-9][a-z0-9-]{0,61}\.myshopify\.com")


def valid_shop(shop: str | None) -> str | None:
    """The shop domain, lower-cased, or None when it is not ``<name>.myshopify.com``."""
    text = (shop or "").strip().lower()
    return text if _SHOP.fullmatch(text) else None


def granted(scope: str) -> set[str]:
    """The scopes a token has; ``write_x`` implies ``read_x`` (Shopify returns only the
    write scope when both were asked for)."""
    scopes = {part.strip() for part in scope.split(",") if part.strip()}
    scopes |= {"read_" + s.removeprefix("write_") for s in scopes if s.startswith("write_")}
    return scopes


def missing_scopes(scope: str, required: tuple[str, ...] = REQUIRED_SCOPES) -> list[str]:
    have = granted(scope)
    return [s for s in required if s not in have]


def authorize_url(base_url: str, shop: str, *, api_key: str, redirect_uri: str, state: str) -> str:
    query = urlencode(
        {
            "client_id": api_key,
            "scope": ",".join(REQUIRED_SCOPES),
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{admin_base(base_url, shop)}/admin/oauth/authorize?{query}"


def admin_base(base_url: str, shop: str) -> str:
    """Where the shop's Admin API is: the configured base (tests), else ``https://<shop>``."""
    return base_url.rstrip("/") if base_url else f"https://{shop}"
