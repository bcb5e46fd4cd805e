"""Property tests: any JSON body is a contract answer (never a 500), URLs canonicalise stably."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeflow.core.errors import ValidationFailed
from storeflow.core.stores.connections import canonical_store_url
from storeflow.web import inputs

JSON = st.recursive(
    # No infinity: json.dumps writes it as Infinity, which is not JSON (a 400).
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "storeUrl",
        "siteName",
        "currency",
        "timezone",
        "queue",
        "pending",
        "failed",
        "lastError",
        "status",
        "detail",
        "reason",
        "resources",
        "connectRequestId",
        "pollToken",
        "pluginVersion",
    ]
)
# Objects with the keys the routes read, holding anything: the likely mistakes.
BODIES = JSON | st.dictionaries(KEYS, JSON, max_size=6)
CLASSES = [
    inputs.ConnectBody,
    inputs.PollBody,
    inputs.HeartbeatBody,
    inputs.AckBody,
    inputs.ReasonBody,
    inputs.SyncBody,
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@given(data=BODIES)
def test_any_json_structures_or_is_a_422(cls, data):
    try:
        inputs.structure(data, cls)
    except ValidationFailed as exc:
        assert exc.details and all({"path", "message"} <= set(d) for d in exc.details)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=BODIES, n=st.integers(0, 2**24))
def test_connect_answers_any_json_with_a_contract_status(client, data, n):
    ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    response = client.post(
        "/api/woocommerce/connect",
        data=json.dumps(data),
        content_type="application/json",
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code in (201, 422, 429)
    assert response.get_json()["success"] is (response.status_code == 201)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=BODIES)
def test_poll_answers_any_json_with_a_contract_status(client, data):
    response = client.post(
        "/api/woocommerce/connect/poll", data=json.dumps(data), content_type="application/json"
    )
    assert response.status_code in (404, 422, 429)


@given(url=st.text(max_size=60) | st.from_regex(r"https?://[A-Za-z.]{1,20}(/[a-z/]{0,10})?"))
def test_canonical_store_url_is_idempotent(url):
    once = canonical_store_url(url)
    assert canonical_store_url(once) == once
