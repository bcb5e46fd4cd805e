"""The replenishment route and fields against the OpenAPI document, both directions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from storeflow.core.commerce import replenishment
from storeflow.core.errors import ValidationFailed
from storeflow.web import openapi
from tests.replenishkit import BLUE, COFFEE, HOODIE, buy, catalogue, coffee, enable, hoodie
from tests.test_openapi import Conformance, _validator


@pytest.fixture
def doc(client):
    return client.get("/api/openapi.json").get_json()


def parses(body) -> bool:
    try:
        replenishment.parse_setting(body)
    except ValidationFailed:
        return False
    return True


BODIES = [
    {"enabled": True, "days": 30},
    {"enabled": True, "days": 1, "match": "variant", "multiplyByQuantity": True},
    {"enabled": False},
    {"enabled": False, "days": None},
    {"enabled": True, "days": 730},
    {"enabled": True, "days": 0},
    {"enabled": True, "days": 731},
    {"enabled": True},
    {"enabled": True, "days": None},
    {"days": 30},
    {"enabled": 1, "days": 30},
    {"enabled": True, "days": 30.0},
    {"enabled": True, "days": True},
    {"enabled": True, "days": 30, "match": "sku"},
    {"enabled": True, "days": 30, "multiplyByQuantity": "no"},
    {"enabled": True, "days": 30, "other": 1},
    [],
    "x",
]


def body_validator() -> Draft202012Validator:
    """The PUT body's schema as the served document has it (inline in the operation)."""
    op = openapi.document()["paths"]["/api/products/{provider}/{providerProductId}/replenishment"]
    return Draft202012Validator(op["put"]["requestBody"]["content"]["application/json"]["schema"])


@pytest.mark.parametrize("body", BODIES)
def test_the_documented_body_is_exactly_the_accepted_one(body):
    assert body_validator().is_valid(body) == parses(body)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(["enabled", "days", "match", "multiplyByQuantity", "x"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-5, 800),
            st.sampled_from(["product", "variant", "30"]),
            st.floats(allow_nan=False),
        ),
    )
)
def test_any_body_is_a_setting_or_a_422_never_an_exception(body):
    try:
        setting = replenishment.parse_setting(body)
    except ValidationFailed as error:
        assert error.details and all(d["path"].startswith("$") for d in error.details)
        return
    assert isinstance(setting.enabled, bool)
    assert setting.days is None or 1 <= setting.days <= 730
    assert not setting.enabled or setting.days is not None


def test_answers_match_the_document(app, client, tenant, other_tenant, doc):
    check = Conformance(app, doc)
    catalogue(client, tenant)
    url = f"/api/products/woocommerce/{COFFEE}/replenishment"
    check(client.put(url, json={"enabled": True, "days": 30}, headers=tenant.auth))
    check(client.put(url, json={"enabled": True, "days": 0}, headers=tenant.auth))  # 422
    check(client.put(url, json={"enabled": True, "days": 30}, headers=other_tenant.auth))  # 404
    check(client.put(url, json={"enabled": True, "days": 30}))  # 401
    check(client.put(url, data="{", headers={**tenant.auth, "Content-Type": "application/json"}))
    check(client.put(url, data="x", headers={**tenant.auth, "Content-Type": "text/plain"}))  # 415
    enable(client, tenant, HOODIE, days=20, match="variant")
    buy(client, tenant, 1001, [coffee(), hoodie(BLUE)])
    product = check(client.get(f"/api/products/woocommerce/{COFFEE}", headers=tenant.auth))
    assert product["product"]["pendingReminders"] == 1
    listed = check(client.get("/api/products", headers=tenant.auth))
    assert sum(p["pendingReminders"] for p in listed["products"]) == 2
    profile = check(client.get("/api/subscribers/john.doe@example.com", headers=tenant.auth))
    assert len(profile["replenishment"]) == 2
    assert check.seen >= {"putProductReplenishment", "getProduct", "listProducts", "getSubscriber"}
    assert _validator(doc, "Replenishment").is_valid(product["product"]["replenishment"])
