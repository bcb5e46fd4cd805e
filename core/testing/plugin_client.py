"""Sign requests the way a store plugin does (bearer token + Standard Webhooks).

Used by tests, the demo and the WooCommerce plugin simulator; third-party plugin
authors can use it to test against a local storeflow.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from standardwebhooks.webhooks import Webhook


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=_default).encode()


def signed_headers(
    token: str,
    signing_secret: str,
    body: bytes,
    *,
    webhook_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    msg_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    when = timestamp or datetime.now(UTC)
    signature = Webhook(signing_secret).sign(msg_id, when, body.decode())
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def signed(
    token: str, signing_secret: str, payload: Any, **options: Any
) -> tuple[bytes, dict[str, str]]:
    """Body bytes and headers for one plugin request."""
    body = encode(payload)
    return body, signed_headers(token, signing_secret, body, **options)
