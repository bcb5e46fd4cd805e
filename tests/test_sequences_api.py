"""``/api/sequences`` (same schema as rule files), enrollments, messages, settings."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from storeflow.rules import loader, schema
from tests.rulekit import CART, ORDER, REFILL, advance, emit, line, order, product

REFILL_YAML = """\
id: coffee-refill
name: Coffee refill reminder
status: active
priority: 50
trigger:
  event: ecommerce.replenishment_due
  filters:
    - {path: "product.providerProductId", operator: one_of, value: ["501", "502"]}
enrollment:
  mode: matching_field
  fieldPath: product.providerVariantId
stop:
  - type: event_received
    event: ecommerce.order_placed
    filters: []
    match:
      - {entryPath: "product.providerProductId", eventPath: "lineItems[].providerProductId"}
  - {type: has_tag, tag: vip}
steps:
  - delay: {days: 0, hours: 0, minutes: 0, seconds: 30}
  - email: {subject: "Time to restock {{ product.title }}", body: "...", from: "shop@example.com"}
  - tag: {add: [refill-reminded], remove: []}
"""


def refill() -> dict:
    return yaml.safe_load(REFILL_YAML)


def post(client, tenant, data, path="/api/sequences"):
    return client.post(path, json=data, headers=tenant.auth)


def test_a_rule_file_round_trips_through_the_api(client, tenant, tmp_path):
    created = post(client, tenant, refill())
    assert created.status_code == 201, created.get_json()
    body = client.get("/api/sequences/coffee-refill", headers=tenant.auth).get_json()
    assert body["success"] is True
    (path := Path(tmp_path, "refill.yaml")).write_text(REFILL_YAML)
    from_file = schema.unstructure_sequence(loader.load_path(path)[0])
    assert body["sequence"] == from_file
    assert body["meta"]["activeEnrollments"] == 0 and body["meta"]["source"] == "api"
    listing = client.get("/api/sequences", headers=tenant.auth).get_json()
    assert listing["total"] == 1 and listing["sequences"] == [from_file]


def test_a_duplicate_id_is_a_conflict(client, tenant):
    assert post(client, tenant, refill()).status_code == 201
    again = post(client, tenant, refill())
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "sequence_exists"


def test_invalid_sequences_are_422_with_every_problem(client, tenant):
    data = refill()
    data["trigger"]["event"] = "ecommerce.order_placd"
    data["trigger"]["filters"] = [{"path": "totalCents", "operator": "bigger_than", "value": 1}] + [
        {"path": f"p{i}", "operator": "exists"} for i in range(10)
    ]
    data["priority"] = "50"
    data["steps"][1]["email"]["subject"] = "Hi {{ product.title "
    response = post(client, tenant, data)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    details = {d["path"]: d["message"] for d in error["details"]}
    assert details["$.priority"] == "expected an integer, got string '50'"
    assert details["$.trigger.event"].startswith("unknown event 'ecommerce.order_placd'")
    assert "did you mean ecommerce.order_placed?" in details["$.trigger.event"]
    assert details["$.trigger.filters"] == "at most 10 filters allowed, got 11"
    assert details["$.trigger.filters[0].operator"].startswith("must be one of exists, not_exists")
    assert details["$.steps[1].email.subject"].startswith("template syntax error")
    assert len(error["details"]) == 5
    assert client.get("/api/sequences", headers=tenant.auth).get_json()["total"] == 0


def test_bad_bodies_are_400_or_415(client, tenant):
    malformed = client.post(
        "/api/sequences", data=b"{", headers={**tenant.auth, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    wrong_type = client.post("/api/sequences", data=b"id: x", headers=tenant.auth)
    assert wrong_type.status_code == 415
    not_an_object = post(client, tenant, ["x"])
    assert not_an_object.status_code == 422
    assert not_an_object.get_json()["error"]["details"][0]["path"] == "$"


def test_put_replaces_or_creates_and_checks_the_id(client, tenant):
    data = refill()
    created = client.put("/api/sequences/coffee-refill", json=data, headers=tenant.auth)
    assert created.status_code == 201
    data["priority"] = 80
    replaced = client.put("/api/sequences/coffee-refill", json=data, headers=tenant.auth)
    assert replaced.status_code == 200 and replaced.get_json()["sequence"]["priority"] == 80
    mismatch = client.put("/api/sequences/other", json=data, headers=tenant.auth)
    assert mismatch.status_code == 422
    assert mismatch.get_json()["error"]["details"][0]["path"] == "$.id"
    without_id = {k: v for k, v in data.items() if k != "id"}
    assert (
        client.put("/api/sequences/second", json=without_id, headers=tenant.auth).status_code == 201
    )


def test_delete_cancels_running_enrollments_and_keeps_history(rt, client, tenant):
    post(client, tenant, refill())
    emit(rt, tenant.company_id, REFILL, properties=product("501", "601"))
    assert (
        client.get("/api/sequences/coffee-refill", headers=tenant.auth).get_json()["meta"][
            "activeEnrollments"
        ]
        == 1
    )
    deleted = client.delete("/api/sequences/coffee-refill", headers=tenant.auth)
    assert deleted.get_json() == {"success": True, "cancelledEnrollments": 1}
    assert client.get("/api/sequences/coffee-refill", headers=tenant.auth).status_code == 404
    (run,) = client.get("/api/enrollments", headers=tenant.auth).get_json()["enrollments"]
    assert run["status"] == "cancelled" and run["stopReason"] == "sequence deleted"
    advance(rt, minutes=1)  # its scheduled step finds nothing to do
    (message,) = client.get("/api/messages", headers=tenant.auth).get_json()["messages"]
    assert message["status"] == "skipped" and message["reason"] == "cancelled: sequence deleted"
    assert post(client, tenant, refill()).status_code == 201  # the id can be used again


def test_other_companies_cannot_touch_a_sequence(client, tenant, other_tenant):
    post(client, tenant, refill())
    for method in ("get", "delete"):
        response = getattr(client, method)(
            "/api/sequences/coffee-refill", headers=other_tenant.auth
        )
        assert response.status_code == 404
    dry = client.post("/api/sequences/coffee-refill/dry-run", headers=other_tenant.auth)
    assert dry.status_code == 404
    assert client.get("/api/sequences", headers=other_tenant.auth).get_json()["total"] == 0
    assert client.get("/api/sequences").status_code == 401


def test_enrollments_are_listed_in_the_contract_shape(rt, client, tenant):
    post(client, tenant, refill())
    event_id = emit(rt, tenant.company_id, REFILL, "Ana@Example.com", product("501", "601"))
    emit(rt, tenant.company_id, REFILL, "bo@example.com", product("502", "602"))
    emit(rt, tenant.company_id, ORDER, "bo@example.com", order(line("502", "602")))
    body = client.get(
        "/api/enrollments?sequence=coffee-refill&email=ANA@example.com", headers=tenant.auth
    ).get_json()
    assert body["total"] == 1
    (run,) = body["enrollments"]
    assert set(run) >= {
        "id",
        "sequenceId",
        "email",
        "status",
        "stopReason",
        "enrolledAt",
        "entryEvent",
        "steps",
    }
    assert run["sequenceId"] == "coffee-refill" and run["email"] == "ana@example.com"
    assert run["entryEvent"] == {"id": event_id, "name": REFILL}
    assert run["steps"][0]["kind"] == "delay" and run["steps"][0]["status"] == "done"
    assert run["steps"][1] == {
        "index": 1,
        "kind": "email",
        "status": "scheduled",
        "dueAt": run["steps"][1]["dueAt"],
        "doneAt": None,
        "detail": None,
    }
    stopped = client.get("/api/enrollments?status=stopped", headers=tenant.auth).get_json()
    assert [e["email"] for e in stopped["enrollments"]] == ["bo@example.com"]
    assert "lineItems[].providerProductId" in stopped["enrollments"][0]["stopReason"]
    bad = client.get("/api/enrollments?status=finished", headers=tenant.auth)
    assert bad.status_code == 422
    unknown = client.get("/api/enrollments?sequence=nope", headers=tenant.auth).get_json()
    assert unknown["total"] == 0


def test_messages_are_the_send_ledger(rt, client, tenant):
    post(client, tenant, refill())
    emit(rt, tenant.company_id, REFILL, properties=product("501", "601"))
    advance(rt, seconds=31)
    body = client.get("/api/messages?email=ana@example.com", headers=tenant.auth).get_json()
    (message,) = body["messages"]
    assert message["sequenceId"] == "coffee-refill" and message["step"] == 1
    assert message["subject"] == "Time to restock Coffee" and message["status"] == "sent"
    assert message["messageId"].startswith("<sf.") and message["sentAt"]
    assert (
        client.get("/api/messages?email=x@example.com", headers=tenant.auth).get_json()["total"]
        == 0
    )
    assert client.get("/api/messages?status=sent", headers=tenant.auth).get_json()["total"] == 1


def test_the_frequency_cap_is_configured_through_the_api(rt, client, tenant):
    default = client.get("/api/settings/frequency-cap", headers=tenant.auth).get_json()
    assert default["frequencyCap"] == {
        "enabled": True,
        "maxMessages": 1,
        "windowHours": 16.0,
        "whenCapped": "delay",
    }
    changed = client.put(
        "/api/settings/frequency-cap",
        json={"maxMessages": 3, "windowHours": 24, "whenCapped": "skip"},
        headers=tenant.auth,
    )
    assert changed.status_code == 200
    again = client.get("/api/settings/frequency-cap", headers=tenant.auth).get_json()
    assert again["frequencyCap"]["maxMessages"] == 3
    bad = client.put("/api/settings/frequency-cap", json={"maxMessages": -1}, headers=tenant.auth)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["path"] == "$.maxMessages"


def test_dry_run_over_the_api(rt, client, tenant):
    cart = {
        "id": "cart",
        "name": "Cart recovery",
        "status": "draft",
        "trigger": {"event": CART},
        "steps": [{"delay": {"hours": 1}}, {"email": {"subject": "Back?", "body": "b"}}],
    }
    assert post(client, tenant, cart).status_code == 201
    emit(rt, tenant.company_id, CART, "a@example.com")
    emit(rt, tenant.company_id, ORDER, "a@example.com", order(line("1")))
    emit(rt, tenant.company_id, CART, "b@example.com")
    advance(rt, hours=2)
    response = client.post("/api/sequences/cart/dry-run", json={"days": 7}, headers=tenant.auth)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()["dryRun"]
    assert report["summary"]["entered"] == 2 and report["summary"]["stopped"] == 1
    assert report["summary"]["emailsWouldSend"] == 1
    a, b = report["results"]
    assert a["result"] == "stopped" and ORDER in a["stopReason"]
    assert b["result"] == "completed"
    assert client.get("/api/enrollments", headers=tenant.auth).get_json()["total"] == 0
    bad = client.post("/api/sequences/cart/dry-run", json={"days": 0}, headers=tenant.auth)
    assert bad.status_code == 422
    assert json.dumps(report)
