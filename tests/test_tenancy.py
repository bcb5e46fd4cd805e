"""Company A's API key and webhook secret never read or write company B's data."""

from __future__ import annotations

from sqlalchemy import func, select

from storeflow.core.storage.tables import Enrollment, Event, InboundDelivery, Message
from tests.test_webhook_flow import HOODIE_RULE, hoodie_order, load_rule, send


def _seed_b(rt, client, other_tenant) -> None:
    load_rule(rt, other_tenant.company_id, HOODIE_RULE)
    assert (
        send(client, other_tenant, "order.created", hoodie_order(email="bea@b.example")).status_code
        == 200
    )


def test_a_secret_cannot_write_to_b_integration(rt, client, tenant, other_tenant):
    body = hoodie_order()
    forged = send(client, other_tenant, "order.created", body, secret=tenant.webhook_secret)
    assert forged.status_code == 401
    with rt.unit_of_work() as session:
        stored = session.scalar(
            select(func.count())
            .select_from(InboundDelivery)
            .where(InboundDelivery.company_id == other_tenant.company_id)
        )
    assert stored == 0


def test_a_key_does_not_see_b_events(rt, client, tenant, other_tenant):
    _seed_b(rt, client, other_tenant)
    body = client.get("/api/events", headers=tenant.auth).get_json()
    assert body["total"] == 0 and body["events"] == []
    assert client.get("/api/events", headers=other_tenant.auth).get_json()["total"] == 1


def test_a_key_cannot_fetch_b_event_by_id(rt, client, tenant, other_tenant):
    _seed_b(rt, client, other_tenant)
    with rt.unit_of_work() as session:
        event_id = session.scalars(select(Event.id)).one()
    assert client.get(f"/api/events/{event_id}", headers=tenant.auth).status_code == 404
    assert client.get(f"/api/events/{event_id}", headers=other_tenant.auth).status_code == 200


def test_a_key_cannot_read_b_subscriber(rt, client, tenant, other_tenant):
    _seed_b(rt, client, other_tenant)
    assert client.get("/api/subscribers/bea@b.example", headers=tenant.auth).status_code == 404
    assert (
        client.get("/api/subscribers/BEA@b.example", headers=other_tenant.auth).status_code == 200
    )


def test_a_key_does_not_see_b_enrollments_or_messages(rt, client, tenant, other_tenant):
    _seed_b(rt, client, other_tenant)
    with rt.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 1
        assert session.scalar(select(func.count()).select_from(Message)) == 1
    assert client.get("/api/enrollments", headers=tenant.auth).get_json()["total"] == 0
    assert client.get("/api/messages", headers=tenant.auth).get_json()["total"] == 0
    assert client.get("/api/enrollments", headers=other_tenant.auth).get_json()["total"] == 1
    assert client.get("/api/messages", headers=other_tenant.auth).get_json()["total"] == 1


def test_admin_api_needs_a_valid_key(client, tenant):
    assert client.get("/api/events").status_code == 401
    bad = client.get("/api/events", headers={"Authorization": "Bearer sf_live_nope"})
    assert bad.status_code == 401
    assert bad.get_json()["error"]["code"] == "invalid_api_key"


def test_bad_query_parameters_are_422_not_500(client, tenant):
    for query in ("limit=abc", "limit=-1", "since=yesterday", "offset=x"):
        response = client.get(f"/api/events?{query}", headers=tenant.auth)
        assert response.status_code == 422, query
        assert response.get_json()["error"]["code"] == "validation_failed"
