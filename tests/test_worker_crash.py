"""A real consumer killed with SIGKILL mid-job: nothing is lost, nothing is sent twice."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from storeflow.core.storage.tables import Job, Message
from tests.conftest import TEST_REDIS_URL
from tests.processes import process_env, start, stop, wait_until
from tests.test_webhook_flow import HOODIE_RULE, hoodie_order, load_rule, send

pytestmark = pytest.mark.slow


@pytest.fixture
def quiet_rt(rt_smtp):
    """The test process only stores deliveries; real consumers do all the work."""
    rt_smtp.waker = None
    if TEST_REDIS_URL:
        import redis

        redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    return rt_smtp


def worker_env(rt, tmp_path, **extra):
    return process_env(
        rt.settings,
        STOREFLOW_SMTP_URL=rt.settings.smtp_url,
        STOREFLOW_JOB_LEASE_SECONDS="3",
        STOREFLOW_SWEEP_SECONDS="0.5",
        STOREFLOW_PLUGINS="tests.plugins.pause_once",
        STOREFLOW_TEST_PAUSE_MARKER=str(tmp_path / "paused"),
        **extra,
    )


def test_sigkill_mid_job_then_sweeper_finishes_and_email_is_sent_once(
    quiet_rt, client, tenant, smtp_server, tmp_path
):
    rt = quiet_rt
    load_rule(rt, tenant.company_id, HOODIE_RULE)
    assert send(client, tenant, "order.created", hoodie_order()).status_code == 200
    env = worker_env(rt, tmp_path, STOREFLOW_TEST_PAUSE_KIND="step")
    log = tmp_path / "worker.log"

    first = start(["worker", "--workers", "2"], env, log)
    try:
        # The consumer found the delivery (via its sweeper), ran it and the event job,
        # and is now stuck inside the step job that would send the email.
        assert wait_until(lambda: (tmp_path / "paused").exists(), 60), log.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first, signal.SIGKILL)
    assert smtp_server.messages == []
    with rt.unit_of_work() as session:
        step = session.scalars(select(Job).where(Job.kind == "step")).one()
        assert step.status == "running" and step.attempts == 1  # claimed by the dead worker

    second = start(["worker", "--workers", "2"], env, log)
    try:
        mail = smtp_server.wait_for(1, timeout=60)
        assert len(mail) == 1, log.read_text()
        time.sleep(3)  # any duplicate would show up now
        assert len(smtp_server.messages) == 1
    finally:
        stop(second)
    with rt.unit_of_work() as session:
        step = session.get_one(Job, step.id)
        assert step.status == "done" and step.attempts == 2
        message = session.scalars(select(Message)).one()
        assert message.status == "sent"


def test_sigkill_after_the_smtp_handoff_is_marked_unknown_never_resent(
    quiet_rt, client, tenant, smtp_server, tmp_path
):
    """Killed while the SMTP server holds the message: ambiguous, so never resent blindly."""
    rt = quiet_rt
    load_rule(rt, tenant.company_id, HOODIE_RULE)
    assert send(client, tenant, "order.created", hoodie_order()).status_code == 200
    handler = smtp_server.handler
    original = handler.handle_DATA
    arrived = []

    async def slow_data(server, session, envelope):  # the server got DATA, then stalls
        import asyncio

        arrived.append(envelope)
        await asyncio.sleep(30)
        return await original(server, session, envelope)

    handler.handle_DATA = slow_data
    env = worker_env(rt, tmp_path, STOREFLOW_TEST_PAUSE_KIND="none")
    log = tmp_path / "worker.log"
    first = start(["worker"], env, log)
    try:
        assert wait_until(lambda: len(arrived) == 1, 60), log.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first, signal.SIGKILL)
    handler.handle_DATA = original
    second = start(["worker"], env, log)
    try:

        def settled() -> bool:
            with rt.unit_of_work() as session:
                return session.scalars(select(Message.status)).one() == "unknown"

        assert wait_until(settled, 60), log.read_text()
        time.sleep(2)
    finally:
        stop(second)
    assert len(arrived) == 1 and smtp_server.messages == []  # no second attempt reached SMTP
    with rt.unit_of_work() as session:
        message = session.scalars(select(Message)).one()
        assert "may or may not have been sent" in (message.reason or "")
