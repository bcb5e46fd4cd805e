"""The OpenAPI document: every /api route, valid 3.1, typed bodies, and answers that match it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import cattrs
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from storeflow.core.commerce import sync
from storeflow.core.errors import ValidationFailed
from storeflow.rules import capping, dryrun, schema
from storeflow.web import responses, ruledoc
from tests.connecting import (
    STORE_URL,
    ack,
    approve,
    connected,
    heartbeat,
    plugin_post,
    poll,
    start_connect,
)

# Operations that take no body (the request id in the path says it all).
BODILESS_WRITES = {"approveConnectRequest", "denyConnectRequest"}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", lambda m: "{" + _camel(m.group(1)) + "}", rule)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.fixture
def doc(client) -> dict[str, Any]:
    return client.get("/api/openapi.json").get_json()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_every_api_route_is_documented(app, doc):
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (_openapi_path(rule.rule), method.lower()) not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_documented_paths_exist(app, doc):
    served = {_openapi_path(r.rule) for r in app.url_map.iter_rules()}
    assert set(doc["paths"]) - served == set()


def test_the_served_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_operation_has_a_typed_answer_error_schemas_and_its_body(doc):
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, method, op in _operations(doc):
        where = f"{method.upper()} {path}"
        ok = [code for code in op["responses"] if code.startswith("2")]
        assert ok, where
        content = op["responses"][ok[0]]["content"]
        if "application/json" in content and path != "/api/openapi.json":
            ref = content["application/json"]["schema"]["$ref"]
            assert doc["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"], where
        errors = [code for code in op["responses"] if code[0] in "45"]
        assert errors or op["tags"] == ["docs"], where
        for code in errors:
            assert op["responses"][code]["content"]["application/json"]["schema"] == error
        if method in ("post", "put") and op["operationId"] not in BODILESS_WRITES:
            assert "application/json" in op["requestBody"]["content"], where


def test_request_bodies_come_from_the_validating_classes(doc):
    schemas = doc["components"]["schemas"]
    connect = schemas["ConnectBody"]
    assert connect["required"] == ["storeUrl"]
    assert connect["properties"]["storeUrl"] == {"type": "string", "maxLength": 500}
    assert connect["properties"]["pluginVersion"] == {"type": ["string", "null"], "maxLength": 40}
    assert schemas["AckBody"]["properties"]["status"]["enum"] == ["started", "completed", "failed"]
    sequence = schemas["Sequence"]
    assert sequence["additionalProperties"] is False  # the rule-file schema rejects unknown keys
    assert set(sequence["required"]) == {"id", "name", "trigger", "steps"}
    steps = schemas["RuleStep"]["oneOf"]
    assert [next(iter(v["properties"])) for v in steps] == list(schema.STEP_KEYS)
    branch = schemas["RuleBranch"]["properties"]
    assert set(branch) == {"if", "then", "else"}  # from_/if_/else_ on the wire without "_"


def test_step_classes_cover_the_rule_schema():
    covered = {cls for classes in ruledoc.STEP_CLASSES.values() for cls in classes}
    assert set(ruledoc.STEP_CLASSES) == set(schema.STEP_KEYS)
    assert covered == set(schema.Step.__args__)


def test_answers_come_from_the_response_classes(doc):
    schemas = doc["components"]["schemas"]
    poll_answer = schemas["PollAnswer"]
    assert poll_answer["required"] == ["success", "status"]  # credentials only once
    assert "installationToken" in poll_answer["properties"]
    integration = schemas["Integration"]
    assert integration["properties"]["lastSeenAt"] == {
        "type": ["string", "null"],
        "format": "date-time",
    }
    assert set(integration["required"]) == set(integration["properties"])


# --- the document and the validators agree --------------------------------------------------


def _validator(doc: dict[str, Any], name: str) -> Draft202012Validator:
    root = {"components": doc["components"], "$ref": f"#/components/schemas/{name}"}
    return Draft202012Validator(root, format_checker=FormatChecker())


def _parses(parse: Any, body: Any) -> bool:
    try:
        parse(body)
    except (ValidationFailed, capping.InvalidCap, schema.SchemaError):
        return False
    return True


BATCHES = [
    {"syncRunId": "run-1", "items": []},
    {"syncRunId": 7, "page": 3, "isLast": True, "items": [{"id": 1}]},
    {"syncRunId": "run-1", "items": [], "resources": ["orders", "products"]},
    {"syncRunId": "", "items": []},
    {"syncRunId": "   ", "items": []},
    {"syncRunId": "r" * 101, "items": []},
    {"syncRunId": "run-1", "page": -1, "items": []},
    {"syncRunId": "run-1", "page": 2**31, "items": []},
    {"syncRunId": "run-1", "page": True, "items": []},
    {"syncRunId": "run-1", "isLast": "yes", "items": []},
    {"syncRunId": "run-1"},
    {"syncRunId": "run-1", "items": [{}] * 501},
    {"syncRunId": "run-1", "items": [], "resources": []},
    {"syncRunId": "run-1", "items": [], "resources": ["coupons"]},
    {"syncRunId": None, "items": []},
]
CAPS = [
    {},
    {"enabled": False, "maxMessages": 3, "windowHours": 0.5, "whenCapped": "skip"},
    {"windowHours": 720},
    {"maxMessages": 0},
    {"maxMessages": 101},
    {"windowHours": 0},
    {"windowHours": 721},
    {"whenCapped": "drop"},
    {"enabled": 1},
    {"extra": True},
]
DRY_RUNS = [
    {},
    {"days": 1, "limit": 0},
    {"days": 365, "limit": 1000},
    {"days": 0},
    {"days": 366},
    {"limit": -1},
    {"limit": 1001},
    {"days": "30"},
    {"verbose": True},
]


@pytest.mark.parametrize(
    ("name", "parse", "body"),
    [("SyncBatchBody", sync.parse_batch, b) for b in BATCHES]
    + [("FrequencyCap", capping.parse, b) for b in CAPS]
    + [("DryRunOptions", dryrun.parse_options, b) for b in DRY_RUNS],
)
def test_documented_bodies_are_exactly_the_accepted_ones(doc, name, parse, body):
    """Bodies parsed by hand in core/rules: the document describes the parser's rules."""
    assert _validator(doc, name).is_valid(body) == _parses(parse, body)


def _sequence(**changes: Any) -> dict[str, Any]:
    return {**ruledoc.SEQUENCE_EXAMPLE, **changes}


def _step(step: dict[str, Any]) -> dict[str, Any]:
    return _sequence(steps=[step])


ACCEPTED_SEQUENCES = [
    _sequence(),
    _sequence(id="a", priority=0, status="draft", enrollment=None, stop=None),
    _sequence(id="x" * 64, priority=100, stop=[]),
    _sequence(stop=[{"type": "field_changed", "field": "subscriber[].tags[]"}]),
    _sequence(stop=[{"type": "unsubscribed"}]),
    _step({"webhook": {"url": "HTTPS://hooks.example.com/x"}}),
    _step({"webhook": {"url": "https://\u00cf"}}),
    _step(
        {
            "delay": {
                "until": {"weekdays": ["mon"], "start": "09:00", "end": "24:00", "timezone": "UTC"}
            }
        }
    ),
    _step({"branch": {"if": [{"path": "subscriber.tags", "operator": "exists"}], "then": []}}),
]
REJECTED_SEQUENCES = [
    _sequence(id="Coffee"),
    _sequence(id="x" * 65),
    _sequence(name=" "),
    _sequence(priority=101),
    _sequence(steps=[]),
    _sequence(trigger={"event": "ecommerce.order_placd"}),
    _sequence(
        trigger={
            "event": "ecommerce.order_placed",
            "filters": [{"path": "a..b", "operator": "exists"}],
        }
    ),
    _sequence(fitlers=[]),
    _step({"delay": {"seconds": -1}}),
    _step({"webhook": {"url": "ftp://example.com"}}),
    _step({"email": {"subject": "s"}}),
    _step(
        {"delay": {"until": {"weekdays": [], "start": "09:00", "end": "10:00", "timezone": "UTC"}}}
    ),
    _step(
        {
            "delay": {
                "until": {"weekdays": ["mon"], "start": "9:00", "end": "10:00", "timezone": "UTC"}
            }
        }
    ),
    _step({"email": {"subject": "s", "body": "b"}, "tag": {"add": ["x"]}}),
]


@pytest.mark.parametrize("body", ACCEPTED_SEQUENCES)
def test_every_sequence_the_api_accepts_is_documented_as_valid(doc, body):
    """Never stricter than the validator: a stored sequence is answered back as it was sent."""
    assert _parses(schema.structure_sequence, body)
    assert _validator(doc, "Sequence").is_valid(body)


@pytest.mark.parametrize("body", REJECTED_SEQUENCES)
def test_the_documented_sequence_constraints_are_real(doc, body):
    assert not _parses(schema.structure_sequence, body)
    assert not _validator(doc, "Sequence").is_valid(body)


# --- answers match the document ------------------------------------------------------------


class Conformance:
    """Checks each answer against the document's schema for its operation and status."""

    def __init__(self, app: Any, doc: dict[str, Any]) -> None:
        self.urls = app.url_map.bind("localhost")
        self.doc = doc
        self.seen: set[str] = set()

    def __call__(self, response: Any) -> dict[str, Any]:
        method = response.request.method.lower()
        rule, _ = self.urls.match(response.request.path, method, return_rule=True)
        op = self.doc["paths"][_openapi_path(rule.rule)][method]
        status = str(response.status_code)
        where = (method, response.request.path, status, response.get_json())
        assert status in op["responses"], where
        schema_ = op["responses"][status]["content"]["application/json"]["schema"]
        root = {"components": self.doc["components"], **schema_}
        validator = Draft202012Validator(root, format_checker=FormatChecker())
        assert [e.message for e in validator.iter_errors(response.get_json())] == [], where
        self.seen.add(op["operationId"])
        return response.get_json()


def _order() -> dict[str, Any]:
    placed = datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat()
    return {
        "id": 900,
        "status": "processing",
        "currency": "EUR",
        "total": "25.00",
        "date_created_gmt": placed,
        "date_modified_gmt": placed,
        "billing": {"email": "ann@example.com", "first_name": "Ann"},
        "line_items": [
            {
                "id": 1,
                "product_id": 501,
                "variation_id": 0,
                "quantity": 2,
                "name": "Beans",
                "price": 12.5,
                "total": "25.00",
            }
        ],
    }


def test_answers_of_a_whole_store_lifecycle_match_the_document(app, client, tenant, doc):
    check = Conformance(app, doc)
    auth = tenant.auth

    started = check(client.post("/api/woocommerce/connect", json={"storeUrl": "https://a.example"}))
    check(poll(client, started))
    denied = start_connect(client, storeUrl="https://b.example")
    check(client.post(f"/api/connect-requests/{denied['connectRequestId']}/deny", headers=auth))
    check(approve(client, auth, started["connectRequestId"]))
    check(poll(client, started))  # the credentials
    check(poll(client, started))  # 409: already claimed

    inst = connected(client, auth)
    integration = f"/api/integrations/{inst.integration_id}"
    command = check(heartbeat(client, inst))["commands"][0]["id"]
    check(ack(client, inst, command, "started"))
    items = [{"id": 501, "name": "Beans"}, "junk"]
    page = {"syncRunId": command, "page": 1, "items": items}
    assert check(plugin_post(client, inst, "/api/woocommerce/sync/products", page))["failed"]
    page = {"syncRunId": command, "page": 1, "isLast": True, "items": [_order()]}
    assert check(plugin_post(client, inst, "/api/woocommerce/sync/orders", page))["upserted"]
    check(ack(client, inst, command, "completed"))
    check(client.post(f"{integration}/sync", headers=auth))
    check(client.get("/api/integrations", headers=auth))
    check(client.get(integration, headers=auth))
    check(client.get(f"{integration}/sync-runs", headers=auth))
    check(client.get("/api/products?deleted=true", headers=auth))
    check(client.get("/api/products/woocommerce/501", headers=auth))
    check(client.get("/api/events", headers=auth))
    check(client.get("/api/events/1", headers=auth))
    check(client.get("/api/subscribers/nobody@example.com", headers=auth))
    assert check(client.get("/api/subscribers/Ann@example.com", headers=auth))["purchasedProducts"]

    example = ruledoc.SEQUENCE_EXAMPLE
    sid = check(client.post("/api/sequences", json=example, headers=auth))["sequence"]["id"]
    check(client.post("/api/sequences", json=example, headers=auth))  # 409
    check(client.get("/api/sequences", headers=auth))
    check(client.get(f"/api/sequences/{sid}", headers=auth))
    check(client.put(f"/api/sequences/{sid}", json={**example, "status": "paused"}, headers=auth))
    check(client.post(f"/api/sequences/{sid}/dry-run", json={"days": 7}, headers=auth))
    trigger = {"event": "ecommerce.order_placed"}
    on_order = {**example, "id": "thanks", "trigger": trigger, "enrollment": None, "stop": []}
    check(client.put("/api/sequences/thanks", json=on_order, headers=auth))  # 201
    dry = check(client.post("/api/sequences/thanks/dry-run", headers=auth))["dryRun"]
    assert dry["results"][0]["outcome"] == "entered"
    check(client.get("/api/enrollments?status=active", headers=auth))
    check(client.get("/api/messages?status=bogus", headers=auth))  # 422
    check(client.get(f"/api/sequences/{sid}/recovery", headers=auth))
    check(client.delete(f"/api/sequences/{sid}", headers=auth))
    replenish = {"enabled": True, "days": 30, "match": "product"}
    check(client.put("/api/products/woocommerce/501/replenishment", json=replenish, headers=auth))
    check(client.get("/api/settings/back-in-stock", headers=auth))
    check(client.put("/api/settings/back-in-stock", json={"rearm": False}, headers=auth))
    wish = {"storeUrl": STORE_URL, "email": "ana@example.com", "providerProductId": "501"}
    origin = {"Origin": STORE_URL}
    check(client.post("/api/woocommerce/back-in-stock/subscribe", json=wish, headers=origin))
    cart = {"items": [{"productId": 501, "quantity": 1, "lineTotal": "4.50"}], "total": "4.50"}
    started = {"id": "e-1", "type": "cart_started", "occurredAt": "2026-11-30T10:00:00+00:00"}
    started |= {"sessionKey": "s-1", "email": "ana@example.com", "cart": cart | {"currency": "USD"}}
    check(plugin_post(client, inst, "/api/woocommerce/events", {"events": [started]}))
    check(client.get("/api/settings/cart-recovery", headers=auth))
    check(client.put("/api/settings/cart-recovery", json={"cooldownHours": 12}, headers=auth))
    check(client.get("/api/settings/frequency-cap", headers=auth))
    check(client.put("/api/settings/frequency-cap", json={"maxMessages": 2}, headers=auth))
    check(client.get("/api/settings/webhook-signing-secret", headers=auth))

    check(client.post(f"{integration}/disconnect", json={"reason": "done"}, headers=auth))
    check(plugin_post(client, inst, "/api/woocommerce/disconnect", {}))
    check(
        client.post(f"/api/woocommerce/webhooks/{tenant.integration_id}", data={"webhook_id": "1"})
    )

    # The Commerce API and Shopify are walked by their own document tests
    # (tests/test_commerce_api_document.py, tests/test_shopify_oauth.py).
    elsewhere = ("/api/v1/", "/api/shopify/")
    json_operations = {
        op["operationId"]
        for path, _, op in _operations(doc)
        if op["tags"] != ["docs"] and not path.startswith(elsewhere)
    }
    assert json_operations - check.seen == set()


def test_load_insists_on_the_declared_keys():
    event = {
        "id": 1,
        "name": "ecommerce.order_placed",
        "occurredAt": "2024-01-01T00:00:00+00:00",
        "email": None,
        "provider": None,
        "integrationId": None,
        "live": True,
        "properties": {},
    }
    assert responses.dump(responses.load(event, responses.Event)) == event
    with pytest.raises(cattrs.ClassValidationError) as extra:
        responses.load({**event, "surprise": 1}, responses.Event)
    assert isinstance(extra.value.exceptions[0], cattrs.ForbiddenExtraKeysError)
    missing = dict(event)
    del missing["live"]
    with pytest.raises(cattrs.ClassValidationError) as lacking:
        responses.load(missing, responses.Event)
    assert isinstance(lacking.value.exceptions[0], KeyError)


def test_omitted_fields_are_left_out_not_null():
    assert responses.dump(responses.PollAnswer(status="pending")) == {
        "success": True,
        "status": "pending",
    }
    assert responses.dump(responses.WebhookReceived(ping=True)) == {"success": True, "ping": True}


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.get_json()["success"] is False


def test_wrong_method_is_json_405(client):
    response = client.delete("/api/events")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
