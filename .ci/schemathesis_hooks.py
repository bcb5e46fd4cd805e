"""Schemathesis hooks for ``.ci/schemathesis``: authenticate as an admin and as a plugin.

The script creates an admin API key (``STOREFLOW_SCHEMATHESIS_API_KEY``) and connects
one store, whose credentials it writes to ``STOREFLOW_SCHEMATHESIS_INSTALLATION`` (a
JSON file). Plugin operations are sent with the installation token and a Standard
Webhooks signature over the exact body bytes, so that their bodies reach the
validators and handlers instead of stopping at 401; every other request carries the
API key. The plugin's own ``disconnect`` keeps what Schemathesis generated: signed,
it would revoke the installation for the rest of the run.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from schemathesis.core import NotSet

from storeflow.core.testing import plugin_client

API_KEY = os.environ["STOREFLOW_SCHEMATHESIS_API_KEY"]
UNTOUCHED = {"/api/woocommerce/disconnect"}
SIGNED = {
    "/api/woocommerce/heartbeat",
    "/api/woocommerce/commands/{commandId}/ack",
    "/api/woocommerce/sync/{resource}",
}

with open(os.environ["STOREFLOW_SCHEMATHESIS_INSTALLATION"], encoding="utf-8") as handle:
    INSTALLATION: dict[str, Any] = json.load(handle)


def _raw(body: Any) -> bytes:
    if isinstance(body, NotSet):
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


def _is_text(body: bytes) -> bool:
    # Standard Webhooks signs text; a body that is not UTF-8 is refused (401) unsigned too.
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    path = case.operation.path
    if path in UNTOUCHED:
        return
    ours: dict[str, str] = {}
    if path not in SIGNED:
        ours = {"Authorization": f"Bearer {API_KEY}"}
    elif case.media_type in (None, "application/json") and _is_text(body := _raw(case.body)):
        token, secret = INSTALLATION["installationToken"], INSTALLATION["signingSecret"]
        ours = plugin_client.signed_headers(token, secret, body)
        # The request's own body: sent as the very bytes that were signed.
        kwargs["data"] = body
    replaced = {name.lower() for name in ours}
    generated = {k: v for k, v in (case.headers or {}).items() if k.lower() not in replaced}
    case.headers = {**generated, **ours}
