"""Email addresses as storeflow stores and compares them: trimmed and lower-cased.

Subscribers are one per company and email, users one per email, and every lookup by
email (admin filters, sign-in) goes through :func:`normalize_email` first, so the
same person typed two ways is one row.
"""

from __future__ import annotations

import re

# Something, an @, something: what a store may send as an email is not validated
# further (stores have their own rules); this only rejects what cannot be an address.
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def usable_email(value: str | None) -> str | None:
    """The normalized email, or None when ``value`` is empty or not shaped like one."""
    email = normalize_email(value or "")
    return email if _ADDRESS.fullmatch(email) else None
