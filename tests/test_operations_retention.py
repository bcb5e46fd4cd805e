"""Retention: the sweeper prunes old deliveries, plugin answers and events, in batches."""

from __future__ import annotations

from datetime import timedelta

import attrs
from sqlalchemy import func, select

from storeflow.core import clock
from storeflow.core.storage.tables import Enrollment, Event, InboundDelivery, PluginRequest
from storeflow.core.stores import plugin_requests
from storeflow.core.stores.integrations import Integration
from storeflow.core.work import retention, tasks
from tests.test_webhook_flow import HOODIE_RULE, hoodie_order, load_rule, send


def _count(rt, model, *where) -> int:
    with rt.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _store_traffic(rt, client, tenant) -> None:
    """Two processed orders (one enrolls), one failed delivery, one plugin answer."""
    load_rule(rt, tenant.company_id, HOODIE_RULE)
    assert send(client, tenant, "order.created", hoodie_order()).status_code == 200
    other = hoodie_order(id=728, line_items=[])
    assert send(client, tenant, "order.created", other).status_code == 200
    assert send(client, tenant, "order.created", b'{"id": 1, "status": ').status_code == 400
    with rt.unit_of_work() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        plugin_requests.remember(
            session, integration, "msg_1", path="/api/x", status=200, response={"ok": True}
        )


def _round(rt, limit: int) -> retention.Report:
    settings = rt.settings
    with rt.unit_of_work() as session:
        return retention.run(
            session,
            delivery_days=settings.delivery_retention_days,
            failed_delivery_days=settings.failed_delivery_retention_days,
            plugin_request_days=settings.plugin_request_retention_days,
            event_days=settings.event_retention_days,
            limit=limit,
        )


def test_each_table_is_pruned_past_its_age_in_batches_and_what_matters_stays(rt, client, tenant):
    _store_traffic(rt, client, tenant)
    assert _count(rt, InboundDelivery) == 3
    events = _count(rt, Event)
    assert events >= 2
    assert _round(rt, limit=10).total == 0  # everything is young

    clock.travel(timedelta(days=8))  # past the plugin answers' 7 days only
    assert _round(rt, limit=10) == retention.Report(plugin_requests=1)
    assert _count(rt, PluginRequest) == 0

    clock.travel(timedelta(days=23))  # 31 days: processed deliveries go, one per round
    assert _round(rt, limit=1) == retention.Report(deliveries=1)
    assert _round(rt, limit=1) == retention.Report(deliveries=1)
    assert _round(rt, limit=1) == retention.Report()
    assert [row.status for row in _rows(rt)] == ["failed"]  # kept for replay, longer

    clock.travel(timedelta(days=60))  # 91 days
    assert _round(rt, limit=10) == retention.Report(failed_deliveries=1)
    assert _count(rt, InboundDelivery) == 0

    clock.travel(timedelta(days=310))  # 401 days: events no enrollment starts from
    entries = _count(rt, Enrollment)
    assert entries == 1
    assert _round(rt, limit=10) == retention.Report(events=events - entries)
    with rt.unit_of_work() as session:
        kept = session.scalars(select(Event)).one()
        enrollment = session.scalars(select(Enrollment)).one()
        assert enrollment.entry_event_id == kept.id


def test_the_sweeper_runs_it_an_age_of_zero_keeps_a_table_and_a_failure_is_contained(
    rt, client, tenant, caplog
):
    _store_traffic(rt, client, tenant)
    rt.settings = attrs.evolve(rt.settings, delivery_retention_days=0, retention_batch=1)
    clock.travel(timedelta(days=1000))
    tasks.sweep(rt)  # the registered "retention" sweep, one row per table
    assert _count(rt, PluginRequest) == 0
    assert _count(rt, InboundDelivery) == 2  # processed: kept (0 = forever); failed: 1 gone
    assert _count(rt, InboundDelivery, InboundDelivery.status == "failed") == 0

    # A table that cannot be pruned is logged and leaves the others (and the sweep) alone.
    with rt.unit_of_work() as session:
        original = retention.prune_events

        def broken(*args, **kwargs):
            raise RuntimeError("a plugin's table refers to this event")

        retention.prune_events = broken
        try:
            report = retention.run(
                session,
                delivery_days=1,
                failed_delivery_days=1,
                plugin_request_days=1,
                event_days=1,
                limit=10,
            )
        finally:
            retention.prune_events = original
    assert report.deliveries == 2 and report.events == 0
    assert "could not prune events" in caplog.text


def _rows(rt) -> list[InboundDelivery]:
    with rt.unit_of_work() as session:
        return list(session.scalars(select(InboundDelivery)))
