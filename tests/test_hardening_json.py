"""One JSON parser for every route: deeply nested bodies are a 400, never a 500 (issue 16).

A 10,000-deep array made ``json.loads`` raise ``RecursionError`` (a 500 on twelve
routes, the unauthenticated connect and poll among them); bodies about a thousand
levels deep got through the parser and failed later in cattrs or the JSON columns.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from storeflow.core.commerce import ingest
from storeflow.core.errors import BadRequest
from storeflow.core.storage.tables import InboundDelivery, Integration, Job
from storeflow.core.stores.provider import Verified
from storeflow.core.testing import plugin_client
from storeflow.web import inputs
from tests.connecting import connected, plugin_post
from tests.providers import woocommerce_payloads as fixtures

DEEP = b"[" * 10_000 + b"]" * 10_000
# Deep enough to pass json.loads (below its recursion limit) and to break what follows.
NESTED = {"syncRunId": "run-1", "items": [json.loads("[" * 900 + "]" * 900)]}


def _error(response: Any) -> str:
    body = response.get_json()
    assert body["success"] is False, body
    return body["error"]["code"]


@pytest.fixture
def installation(client, tenant):
    return connected(client, tenant.auth)


def _admin_routes(installation: Any) -> list[tuple[str, str]]:
    iid = installation.integration_id
    return [
        ("POST", f"/api/integrations/{iid}/sync"),
        ("POST", f"/api/integrations/{iid}/disconnect"),
        ("POST", "/api/sequences"),
        ("PUT", "/api/sequences/coffee-refill"),
        ("POST", "/api/sequences/coffee-refill/dry-run"),
        ("PUT", "/api/settings/frequency-cap"),
    ]


PLUGIN_ROUTES = [
    "/api/woocommerce/heartbeat",
    "/api/woocommerce/commands/cmd_1/ack",
    "/api/woocommerce/sync/products",
    "/api/woocommerce/disconnect",
]


@pytest.mark.parametrize("body", [DEEP, json.dumps(NESTED).encode()], ids=["10000", "900"])
def test_deep_json_is_400_on_every_json_route(client, tenant, installation, body):
    answers: dict[str, tuple[int, str]] = {}
    for path in ("/api/woocommerce/connect", "/api/woocommerce/connect/poll"):
        response = client.post(path, data=body, content_type="application/json")
        answers[path] = (response.status_code, _error(response))
    for method, path in _admin_routes(installation):
        response = client.open(
            path, method=method, data=body, content_type="application/json", headers=tenant.auth
        )
        answers[path] = (response.status_code, _error(response))
    for path in PLUGIN_ROUTES:
        headers = plugin_client.signed_headers(
            installation.token, installation.signing_secret, body
        )
        response = client.post(path, data=body, headers=headers)
        answers[path] = (response.status_code, _error(response))
    expected = {"json_too_deep", "malformed_json"}
    assert {path: status for path, (status, _) in answers.items()} == dict.fromkeys(answers, 400)
    assert {code for _, code in answers.values()} <= expected, answers
    # Nothing was written by any of them: the installation still works, nothing queued.
    assert plugin_post(client, installation, "/api/woocommerce/heartbeat", {}).status_code == 200


TOO_DEEP = "json_too_deep: the body is nested deeper than 64 levels"


@pytest.mark.parametrize("body", [DEEP, json.dumps(NESTED).encode()], ids=["10000", "900"])
def test_deep_webhook_body_is_stored_as_failed_not_a_500(rt, client, tenant, body):
    """The provider parses with storeflow's parser: the same 400 as every route, and the
    authentic delivery is kept as failed with a reason that says what is wrong."""
    headers = fixtures.webhook_headers("order.created", body, tenant.webhook_secret)
    response = client.post(
        f"/api/woocommerce/webhooks/{tenant.integration_id}", data=body, headers=headers
    )
    assert response.status_code == 400 and _error(response) == "json_too_deep"
    with rt.unit_of_work() as session:  # authentic: kept as failed, replayable
        (delivery,) = session.scalars(select(InboundDelivery)).all()
        assert delivery.status == "failed" and delivery.body == body
        assert delivery.error == TOO_DEEP


def _jobs(rt: Any) -> list[tuple[str, str]]:
    with rt.unit_of_work() as session:
        return [(job.kind, job.status) for job in session.scalars(select(Job))]


def test_replaying_a_deep_webhook_fails_it_again_with_its_reason(rt, client, tenant):
    """The worker parses the stored body again: a failed delivery, never a dead job."""
    headers = fixtures.webhook_headers("order.updated", DEEP, tenant.webhook_secret)
    client.post(f"/api/woocommerce/webhooks/{tenant.integration_id}", data=DEEP, headers=headers)
    with rt.unit_of_work() as session:
        delivery_id = session.scalars(select(InboundDelivery.id)).one()
    with rt.unit_of_work() as session:
        ingest.replay(session, delivery_id)
    with rt.unit_of_work() as session:
        delivery = session.get_one(InboundDelivery, delivery_id)
        assert (delivery.status, delivery.error) == ("failed", TOO_DEEP)
    assert _jobs(rt) and all(status == "done" for _, status in _jobs(rt)), _jobs(rt)


def test_a_stored_deep_cart_event_batch_is_a_failed_delivery(rt, tenant):
    """Cart events are parsed by the provider in the worker too (``plugin.events``)."""
    provider = rt.providers["woocommerce"]
    verified = Verified(kind="delivery", topic="plugin.events", dedupe_key="deep-events")
    with rt.unit_of_work() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        received = ingest.store(session, integration, provider, verified, DEEP, None, kind="event")
    with rt.unit_of_work() as session:
        delivery = session.get_one(InboundDelivery, received.delivery_id)
        assert (delivery.status, delivery.error) == ("failed", TOO_DEEP)
    assert _jobs(rt) == [("delivery", "done")]


@pytest.mark.parametrize("topic", ["order.created", "plugin.events"])
def test_the_provider_parse_refuses_deep_bodies_as_bad_requests(rt, topic):
    with pytest.raises(BadRequest) as exc:
        rt.providers["woocommerce"].parse_payload(topic, DEEP)
    assert exc.value.code == "json_too_deep" and exc.value.status == 400


def test_no_json_route_answers_deep_json_with_a_5xx(app, client, tenant, installation):
    """Every POST/PUT route under /api, including ones added later: never a 500."""
    values = {
        "integration_id": installation.integration_id,
        "provider_name": "woocommerce",
        "provider": "woocommerce",
        "resource": "orders",
    }
    checked = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & {"POST", "PUT", "PATCH"}
        if not rule.rule.startswith("/api/") or not methods:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", values.get(name, "x1"))
            for converter in ("int", "path", "string"):
                path = path.replace(f"<{converter}:{name}>", values.get(name, "1"))
        for method in methods:
            response = client.open(
                path,
                method=method,
                data=DEEP,
                content_type="application/json",
                headers={**tenant.auth, "Origin": "https://acme.example.com"},
            )
            assert response.status_code < 500, (method, path, response.get_data()[:300])
            assert response.is_json, (method, path)
            checked.append(path)
    assert len(checked) >= 12


def test_depth_limit_is_exact():
    at_limit = "[" * inputs.MAX_JSON_DEPTH + "]" * inputs.MAX_JSON_DEPTH
    assert inputs.parse_json(at_limit.encode()) is not None
    over = "[" * (inputs.MAX_JSON_DEPTH + 1) + "]" * (inputs.MAX_JSON_DEPTH + 1)
    with pytest.raises(BadRequest) as exc:
        inputs.parse_json(over.encode())
    assert exc.value.code == "json_too_deep" and exc.value.status == 400


@pytest.mark.parametrize(
    "raw",
    [b'{"a": NaN}', b'{"a": Infinity}', b"[1e999]", b'{"a": "\xff"}', b"\xff\xfe[\x00]\x00", b"{"],
)
def test_what_is_not_json_is_malformed(raw):
    with pytest.raises(BadRequest) as exc:
        inputs.parse_json(raw)
    assert exc.value.code == "malformed_json"


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=200,
)


@given(value=_json, wrap=st.integers(min_value=0, max_value=80))
def test_parse_json_round_trips_within_the_limit_and_refuses_beyond(value, wrap):
    for _ in range(wrap):
        value = [value]
    raw = json.dumps(value).encode()
    if _depth(value) <= inputs.MAX_JSON_DEPTH:
        assert inputs.parse_json(raw) == value
    else:
        with pytest.raises(BadRequest):
            inputs.parse_json(raw)
