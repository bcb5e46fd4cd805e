"""The processing pipeline: batched claims, one transaction per batch of deliveries,
events and rules inside it, fair lanes, coalesced wake-ups, pruning, SMTP reuse."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import attrs
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from storeflow.core import clock
from storeflow.core.storage.tables import (
    Enrollment,
    Event,
    InboundDelivery,
    Job,
    Message,
    OrderRow,
    Subscriber,
)
from storeflow.core.transport import mailer
from storeflow.core.work import outbox, tasks
from tests.test_webhook_flow import HOODIE_RULE, hoodie_order, load_rule, send

TAG_THEN_EMAIL = {
    "id": "tag-then-thanks",
    "name": "Tag, then thank",
    "trigger": {"event": "ecommerce.order_placed"},
    "enrollment": {"mode": "unlimited"},
    "steps": [
        {"tag": {"add": ["buyer"]}},
        {"email": {"subject": "Thanks", "body": "Hi {{ subscriber.email }}"}},
    ],
}


def store_orders(rt, client, tenant, count: int, *, first_id: int = 1000) -> None:
    """Signed order webhooks stored with their jobs; nothing runs yet."""
    rt.waker = None
    for n in range(count):
        order = hoodie_order(id=first_id + n, email=f"buyer{n}@example.com")
        assert send(client, tenant, "order.created", order).status_code == 200


def count(rt, model, *where) -> int:
    with rt.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def commits_during(rt, action) -> int:
    seen = []
    listener = lambda conn: seen.append(1)  # noqa: E731
    sa_event.listen(rt.engine, "commit", listener)
    try:
        action()
    finally:
        sa_event.remove(rt.engine, "commit", listener)
    return len(seen)


def test_a_batch_of_deliveries_commits_once_with_events_and_enrollments(rt, client, tenant):
    rt.settings = attrs.evolve(rt.settings, worker_transaction_seconds=60.0)
    load_rule(rt, tenant.company_id, TAG_THEN_EMAIL)
    store_orders(rt, client, tenant, 20)
    ran = []
    commits = commits_during(rt, lambda: ran.append(tasks.run_internal_batch(rt, 50)))
    assert ran == [20]
    # One claim and one commit for the whole batch, not several per delivery.
    assert commits == 2
    assert count(rt, OrderRow) == 20
    assert count(rt, Event, Event.name == "ecommerce.order_placed") == 20
    assert count(rt, Enrollment) == 20
    # The rules ran inside the delivery's transaction: no event job, and the tag step
    # (internal, due now) ran there too; only the sends are jobs.
    assert count(rt, Job, Job.kind == "event") == 0
    assert count(rt, Job, Job.kind == "step", Job.status == "pending") == 20
    with rt.unit_of_work() as session:
        tags = session.scalars(select(Subscriber.tags)).all()
    assert all("buyer" in (t or []) for t in tags) and len(tags) == 20


def test_a_batch_past_its_time_budget_goes_on_in_a_new_transaction(rt, client, tenant):
    rt.settings = attrs.evolve(rt.settings, worker_transaction_seconds=0.0)
    store_orders(rt, client, tenant, 5)
    ran = []
    commits = commits_during(rt, lambda: ran.append(tasks.run_internal_batch(rt, 50)))
    # Each transaction takes at least one job, so none is ever empty or endless.
    assert ran == [5] and commits == 1 + 5
    assert count(rt, InboundDelivery, InboundDelivery.status == "processed") == 5


def test_one_unmappable_delivery_in_a_batch_is_kept_failed_and_the_rest_are_processed(
    rt, client, tenant
):
    store_orders(rt, client, tenant, 3)
    rt.waker = None
    send(client, tenant, "order.created", hoodie_order(id=9999, email=""))  # no email at all
    store_orders(rt, client, tenant, 3, first_id=2000)
    assert tasks.run_internal_batch(rt, 50) == 7
    with rt.unit_of_work() as session:
        rows = session.scalars(select(InboundDelivery).order_by(InboundDelivery.id)).all()
    statuses = [row.status for row in rows]
    assert statuses == ["processed"] * 3 + ["failed"] + ["processed"] * 3
    assert "email" in (rows[3].error or "")
    assert count(rt, OrderRow) == 6


def test_a_delivery_that_crashes_its_handler_rolls_back_alone(rt, client, tenant, monkeypatch):
    store_orders(rt, client, tenant, 4)
    provider = rt.providers["woocommerce"]
    original = provider.map_webhook

    def crash_on_the_third(topic, payload, store):
        if str(payload.id) == "1002":
            raise RuntimeError("a provider bug")
        return original(topic, payload, store)

    monkeypatch.setattr(provider, "map_webhook", crash_on_the_third)
    assert tasks.run_internal_batch(rt, 50) == 4
    assert count(rt, OrderRow) == 3
    with rt.unit_of_work() as session:
        (crashed,) = session.scalars(select(Job).where(Job.status != "done")).all()
    # Not failed as data: the machinery broke, so it is retried with backoff.
    assert crashed.status == "pending" and "a provider bug" in (crashed.last_error or "")
    monkeypatch.setattr(provider, "map_webhook", original)
    clock.travel(timedelta(minutes=5))
    tasks.drain(rt)
    assert count(rt, OrderRow) == 4


def test_events_whose_consumers_fail_are_retried_without_holding_up_the_delivery(
    rt, client, tenant, monkeypatch
):
    from storeflow.rules import runner

    store_orders(rt, client, tenant, 1)

    def broken(session, event):
        raise RuntimeError("rules bug")

    monkeypatch.setattr(runner, "on_event", broken)
    tasks.run_internal_batch(rt, 50)
    assert count(rt, InboundDelivery, InboundDelivery.status == "processed") == 1
    assert count(rt, Job, Job.kind == "event", Job.status == "pending") == 1


def test_new_sends_are_not_starved_by_a_backlog_of_old_deliveries(rt_smtp, client, tenant):
    rt = rt_smtp
    load_rule(rt, tenant.company_id, HOODIE_RULE)
    store_orders(rt, client, tenant, 1, first_id=1)
    tasks.run_internal_batch(rt, 1)  # one order processed: its email is now due
    clock.travel(timedelta(seconds=1))
    store_orders(rt, client, tenant, rt.settings.worker_batch + 10, first_id=100)
    # Every stored delivery is older than the email, yet the first round sends it.
    ran = tasks.drain(rt, limit=rt.settings.worker_batch + 1)
    assert ran == rt.settings.worker_batch + 1
    assert count(rt, Message, Message.status == "sent") == 1
    assert count(rt, InboundDelivery, InboundDelivery.status == "pending") == 10


def test_wake_ups_are_coalesced_to_one_queued_task(settings, tmp_path):

    from storeflow.core.runtime import Runtime

    queued = attrs.evolve(settings, queue_immediate=False, var_dir=tmp_path / "queued")
    rt = Runtime.build(queued)
    try:
        assert rt.tasks is not None and rt.huey is not None
        for _ in range(100):
            rt.tasks.wake()
        assert rt.huey.pending_count() == 1
        # The worker clears the flag when it starts, so a later commit queues again.
        rt.tasks.run_drain(rt)
        rt.tasks.wake()
        assert rt.huey.pending_count() == 2
    finally:
        rt.close()


def test_a_lost_wake_up_is_replaced_by_the_sweeper(settings, tmp_path, tenant):

    from storeflow.core.runtime import Runtime

    queued = attrs.evolve(settings, queue_immediate=False, var_dir=tmp_path / "queued")
    rt = Runtime.build(queued)
    try:
        assert rt.tasks is not None and rt.huey is not None
        rt.tasks.wake()
        rt.huey.flush()  # the queued task is gone (a consumer died with it); the flag is not
        rt.huey.put(tasks.WAKE_FLAG, "0")  # raised long ago
        with rt.unit_of_work() as session:
            outbox.add(session, company_id=tenant.company_id, kind="nobody", key="x")
        assert rt.huey.pending_count() == 0
        tasks.sweep(rt)
        assert rt.huey.pending_count() == 1
    finally:
        rt.close()


def test_the_sweeper_prunes_finished_jobs_and_keeps_dead_ones(rt, tenant):
    rt.waker = None
    with rt.unit_of_work() as session:
        done = outbox.add(session, company_id=tenant.company_id, kind="nobody", key="d")
        dead = outbox.add(session, company_id=tenant.company_id, kind="nobody", key="x")
        session.get_one(Job, done).status = "done"
        session.get_one(Job, done).done_at = clock.now()
        session.get_one(Job, dead).status = "dead"
    clock.travel(rt.settings.job_retention - timedelta(minutes=1))
    assert tasks.sweep(rt).pruned == 0
    clock.travel(timedelta(minutes=2))
    assert tasks.sweep(rt).pruned == 1
    with rt.unit_of_work() as session:
        assert session.get(Job, done) is None
        assert session.get_one(Job, dead).status == "dead"


def test_one_smtp_connection_per_thread_is_reused_and_reopened(smtp_server):
    transport = mailer.Transport(check_after=0.0)
    try:
        for n in range(5):
            transport.send(smtp_server.url, _mail(n))
        assert transport.connections_opened == 1
        # The server drops idle connections: the next send notices and opens a new one.
        transport._local.client.sock.shutdown(socket.SHUT_RDWR)  # the connection is gone
        transport.send(smtp_server.url, _mail(5))
        assert transport.connections_opened == 2
        other = threading.Thread(target=transport.send, args=(smtp_server.url, _mail(6)))
        other.start()
        other.join()
        assert transport.connections_opened == 3  # a thread has a connection of its own
    finally:
        transport.close()
    subjects = sorted(m["Subject"] for m in smtp_server.wait_for(7))
    assert subjects == [f"message {n}" for n in range(7)]


def _mail(n: int) -> mailer.Mail:
    return mailer.Mail(
        sender="shop@example.com",
        to=f"buyer{n}@example.com",
        subject=f"message {n}",
        body="hello",
        message_id=f"<m{n}@storeflow.test>",
    )


@pytest.mark.postgres
def test_concurrent_batch_claims_on_postgres_never_overlap(rt, tenant):
    rt.waker = None
    with rt.unit_of_work() as session:
        for n in range(600):
            outbox.add(session, company_id=tenant.company_id, kind="nobody", key=f"k{n}")
    claimed: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def claimer(slot: int) -> None:
        start.wait()
        while True:
            with rt.unit_of_work() as session:
                batch = outbox.claim_batch(session, limit=25, lease_seconds=60)
            if not batch:
                return
            claimed[slot].extend(job.id for job in batch)

    threads = [threading.Thread(target=claimer, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [job_id for ids in claimed for job_id in ids]
    assert len(everything) == 600 and len(set(everything)) == 600
    assert all(claimed), "every claimer got some of the work"
