"""Helpers for connection tests: connect a store through the protocol with a Flask test client.

The real-HTTP tests use ``storeflow.providers.woocommerce.simulator`` instead; these keep the
many small error-path tests fast.
"""

from __future__ import annotations

from typing import Any

import attrs

from storeflow.core.testing import plugin_client

STORE_URL = "https://shop.example.com"


def connect_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "storeUrl": STORE_URL,
        "siteName": "Example Shop",
        "pluginVersion": "1.0.0",
        "wpVersion": "6.8.3",
        "wcVersion": "9.8.1",
        "currency": "EUR",
        "timezone": "Europe/Paris",
        **overrides,
    }


def start_connect(client: Any, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/woocommerce/connect", json=connect_payload(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def approve(client: Any, auth: dict[str, str], request_id: str) -> Any:
    return client.post(f"/api/connect-requests/{request_id}/approve", headers=auth)


def poll(client: Any, start: dict[str, Any], token: str | None = None) -> Any:
    return client.post(
        "/api/woocommerce/connect/poll",
        json={
            "connectRequestId": start["connectRequestId"],
            "pollToken": token if token is not None else start["pollToken"],
        },
    )


@attrs.frozen
class Installation:
    token: str
    signing_secret: str
    webhook_secret: str
    integration_id: str
    company_id: int


def connected(client: Any, auth: dict[str, str], **overrides: Any) -> Installation:
    """Connect, approve with ``auth``'s company, claim: a working plugin installation."""
    start = start_connect(client, **overrides)
    assert approve(client, auth, start["connectRequestId"]).status_code == 200
    answer = poll(client, start).get_json()
    assert answer["status"] == "approved", answer
    return Installation(
        answer["installationToken"],
        answer["signingSecret"],
        answer["webhookSecret"],
        answer["integrationId"],
        answer["companyId"],
    )


def plugin_post(client: Any, inst: Installation, path: str, payload: Any, **options: Any) -> Any:
    body, headers = plugin_client.signed(inst.token, inst.signing_secret, payload, **options)
    return client.post(path, data=body, headers=headers)


def heartbeat(client: Any, inst: Installation, **fields: Any) -> Any:
    payload = {
        "pluginVersion": "1.0.1",
        "wpVersion": "6.8.3",
        "wcVersion": "9.8.1",
        "storeUrl": STORE_URL,
        "queue": {"pending": 0, "failed": 0},
        "lastError": None,
        **fields,
    }
    return plugin_post(client, inst, "/api/woocommerce/heartbeat", payload)


def ack(client: Any, inst: Installation, command_id: str, status: str, detail: Any = None) -> Any:
    return plugin_post(
        client,
        inst,
        f"/api/woocommerce/commands/{command_id}/ack",
        {"status": status, "detail": detail},
    )
