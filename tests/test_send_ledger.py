"""Exactly-once effects: the send ledger, duplicate and crashed step jobs, retries, headers."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import attrs
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.storage.tables import Job
from storeflow.core.work import outbox, tasks
from storeflow.rules import ledger as ledger_module
from storeflow.rules.steps import STEP_JOBS
from tests.conftest import free_port
from tests.rulekit import (
    ORDER,
    advance,
    define,
    email_step,
    emit,
    ledger,
    runs,
    sequence,
    steps_of,
)

LATER = [{"delay": {"minutes": 10}}, email_step("Your order")]


def _step_jobs(rt):
    with rt.unit_of_work() as session:
        return list(session.scalars(select(Job).where(Job.kind == "step").order_by(Job.id)))


def _duplicate(
    rt, company_id: int, enrollment_id: int, position: int, key: str, minutes: int = 10
) -> int:
    with rt.unit_of_work() as session:
        return outbox.add(
            session,
            company_id=company_id,
            kind="step",
            key=key,
            ref_id=enrollment_id,
            payload={"position": position},
            available_at=clock.now() + timedelta(minutes=minutes),
        )


def test_a_step_enqueued_twice_sends_once(rt_smtp, tenant, smtp_server):
    rt = rt_smtp
    define(rt, tenant.company_id, sequence("s", steps=LATER))
    emit(rt, tenant.company_id, ORDER)
    (run,) = runs(rt, tenant.company_id)
    _duplicate(rt, tenant.company_id, run.id, 1, "dup-1")
    _duplicate(rt, tenant.company_id, run.id, 1, "dup-2")
    advance(rt, minutes=11)
    assert len(smtp_server.wait_for(1)) == 1
    assert [m.status for m in ledger(rt, tenant.company_id)] == ["sent"]
    assert {j.status for j in _step_jobs(rt)} == {"done"}


def test_concurrent_duplicate_step_jobs_send_once(rt_smtp, tenant, smtp_server):
    rt = rt_smtp
    rt.waker = None  # the threads below run the jobs
    define(rt, tenant.company_id, sequence("s", steps=LATER))
    emit(rt, tenant.company_id, ORDER)
    tasks.drain(rt)
    (run,) = runs(rt, tenant.company_id)
    ids = [_duplicate(rt, tenant.company_id, run.id, 1, f"dup-{i}") for i in range(6)]
    clock.travel(timedelta(minutes=11))
    barrier = threading.Barrier(len(ids))

    def work(job_id: int) -> None:
        barrier.wait()
        tasks.execute(rt, job_id)

    threads = [threading.Thread(target=work, args=(job_id,)) for job_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tasks.drain(rt)
    clock.travel(timedelta(minutes=5))
    tasks.drain(rt)  # any job that found the claim busy retries and settles
    assert len(smtp_server.wait_for(1)) == 1
    assert len(smtp_server.messages) == 1
    assert [m.status for m in ledger(rt, tenant.company_id)] == ["sent"]


def test_a_worker_that_died_after_claiming_is_never_resent(rt_smtp, tenant, smtp_server):
    """The claim committed, then the process died (before or after SMTP): unknown, not resent."""
    rt = rt_smtp
    rt.waker = None
    define(rt, tenant.company_id, sequence("s", steps=[email_step()]))
    emit(rt, tenant.company_id, ORDER)
    assert _step_jobs(rt) == []  # nothing ran yet
    tasks.drain(rt, limit=1)  # the event job
    (step_job,) = _step_jobs(rt)
    with rt.unit_of_work() as session:
        job = outbox.claim(session, step_job.id, rt.settings.job_lease_seconds)
        plan = STEP_JOBS.prepare(rt, session, job)
    assert plan is not None  # claimed and committed; then the "crash": no perform, no finish
    (message,) = ledger(rt, tenant.company_id)
    assert message.status == "sending"
    clock.travel(timedelta(seconds=rt.settings.job_lease_seconds + 1))
    tasks.sweep(rt)
    tasks.drain(rt)
    (message,) = ledger(rt, tenant.company_id)
    assert message.status == "unknown" and "may or may not" in message.reason
    assert smtp_server.messages == []
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "completed"
    assert steps_of(rt, run.id)[0].status == "unknown"


def test_a_second_run_while_the_claim_is_leased_waits(rt, tenant):
    rt.waker = None
    define(rt, tenant.company_id, sequence("s", steps=[email_step()]))
    emit(rt, tenant.company_id, ORDER)
    tasks.drain(rt, limit=1)
    (step_job,) = _step_jobs(rt)
    with rt.unit_of_work() as session:
        job = outbox.claim(session, step_job.id, rt.settings.job_lease_seconds)
        assert STEP_JOBS.prepare(rt, session, job) is not None
    (run,) = runs(rt, tenant.company_id)
    duplicate = _duplicate(rt, tenant.company_id, run.id, 0, "dup", minutes=0)
    clock.travel(timedelta(seconds=5))  # well within the claim's lease
    assert tasks.execute(rt, duplicate)
    with rt.unit_of_work() as session:
        again = session.get_one(Job, duplicate)
        assert again.status == "pending" and "another worker" in again.last_error
    assert [m.status for m in ledger(rt, tenant.company_id)] == ["sending"]


def test_the_message_carries_its_ledger_id_and_one_click_headers(rt_smtp, tenant, smtp_server):
    rt = rt_smtp
    rt.settings = attrs.evolve(rt.settings, base_url="https://mail.example.com")
    define(rt, tenant.company_id, sequence("s", steps=[email_step("Hi")]))
    emit(rt, tenant.company_id, ORDER)
    (mail,) = smtp_server.wait_for(1)
    (row,) = ledger(rt, tenant.company_id)
    assert mail["Message-ID"] == row.message_id
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = mail["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://mail.example.com/unsubscribe/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 40
    assert row.unsubscribe_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.body or "").replace(url, "")  # only inside the link itself
    assert url in mail.get_content()


def test_a_refused_connection_is_retried_later(rt_smtp, tenant, smtp_server):
    rt = rt_smtp
    good = rt.settings.smtp_url
    rt.settings = attrs.evolve(rt.settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    define(rt, tenant.company_id, sequence("s", steps=[email_step()]))
    emit(rt, tenant.company_id, ORDER)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "queued" and row.attempts == 1
    assert "attempt 1 failed (ConnectionRefusedError" in row.reason
    rt.settings = attrs.evolve(rt.settings, smtp_url=good)
    advance(rt, seconds=30)
    assert smtp_server.messages == []  # not before the backoff
    advance(rt, seconds=31)
    assert len(smtp_server.wait_for(1)) == 1
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "sent" and row.attempts == 2
    assert runs(rt, tenant.company_id)[0].status == "completed"


def test_retries_end_as_failed(rt, tenant):
    rt.settings = attrs.evolve(rt.settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    define(rt, tenant.company_id, sequence("s", steps=[email_step(), {"tag": {"add": ["after"]}}]))
    emit(rt, tenant.company_id, ORDER)
    for _ in range(ledger_module.MAX_ATTEMPTS):
        advance(rt, hours=7)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "failed" and row.attempts == ledger_module.MAX_ATTEMPTS
    assert "ConnectionRefusedError" in row.reason
    assert runs(rt, tenant.company_id)[0].status == "completed"  # the run moves on


def test_a_permanent_refusal_fails_without_retry(rt_smtp, tenant, smtp_server):
    rt = rt_smtp

    async def refuse(server, session, envelope):
        return "550 5.1.1 mailbox unavailable"

    smtp_server.handler.handle_DATA = refuse
    define(rt, tenant.company_id, sequence("s", steps=[email_step()]))
    emit(rt, tenant.company_id, ORDER)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "failed" and "550" in row.reason and row.attempts == 1


def test_a_template_that_cannot_render_fails_the_message_not_the_run(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(
            "s",
            steps=[
                {"email": {"subject": "{% if 'a' > 1 %}x{% endif %}", "body": "b"}},
                {"tag": {"add": ["after"]}},
            ],
        ),
    )
    emit(rt, tenant.company_id, ORDER)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "failed" and row.reason.startswith("could not render")
    assert runs(rt, tenant.company_id)[0].status == "completed"


def test_without_smtp_messages_are_kept_in_the_ledger(rt, tenant):
    define(rt, tenant.company_id, sequence("s", steps=[email_step("Kept")]))
    emit(rt, tenant.company_id, ORDER)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "sent" and "kept in the ledger" in row.reason
    assert row.subject == "Kept" and row.channel == "email" and row.priority == 50


def test_a_failed_attempt_of_a_run_stopped_meanwhile_is_not_retried(rt, tenant, monkeypatch):
    from storeflow.rules import actions
    from tests.rulekit import CART

    define(rt, tenant.company_id, sequence("cart", event=CART, steps=[email_step()]))

    def refused_while_an_order_arrives(self, rendered, message_id, settings):
        emit(rt, tenant.company_id, ORDER, properties={"orderId": "1"})
        raise actions.RetryLater("ConnectionRefusedError: [Errno 111]")

    monkeypatch.setattr(actions.EmailAction, "perform", refused_while_an_order_arrives)
    emit(rt, tenant.company_id, CART)
    (row,) = ledger(rt, tenant.company_id)
    assert row.status == "skipped"
    assert row.reason.startswith("stopped: default stop[0] event_received ecommerce.order_placed")
    assert "last attempt: ConnectionRefusedError" in row.reason
    advance(rt, hours=1)
    assert ledger(rt, tenant.company_id)[0].status == "skipped"
