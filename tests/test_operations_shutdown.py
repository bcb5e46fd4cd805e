"""A real consumer sent SIGTERM mid-send finishes the send before it exits."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
from sqlalchemy import select

from storeflow.core.storage.tables import Job, Message
from tests.processes import process_env, start, stop, wait_until
from tests.test_webhook_flow import HOODIE_RULE, hoodie_order, load_rule, send
from tests.test_worker_crash import quiet_rt  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def test_sigterm_mid_send_lets_the_send_finish_and_be_recorded_sent(
    quiet_rt,  # noqa: F811
    client,
    tenant,
    smtp_server,
    tmp_path,
):
    rt = quiet_rt
    load_rule(rt, tenant.company_id, HOODIE_RULE)
    assert send(client, tenant, "order.created", hoodie_order()).status_code == 200
    handler = smtp_server.handler
    original = handler.handle_DATA
    arrived = []

    async def slow_data(server, session, envelope):  # the server has DATA and takes its time
        import asyncio

        arrived.append(envelope)
        await asyncio.sleep(2)
        return await original(server, session, envelope)

    handler.handle_DATA = slow_data
    env = process_env(
        rt.settings,
        STOREFLOW_SMTP_URL=rt.settings.smtp_url,
        STOREFLOW_SWEEP_SECONDS="0.5",
        STOREFLOW_LOG_FORMAT="json",
        STOREFLOW_SHUTDOWN_GRACE_SECONDS="20",
    )
    log = tmp_path / "worker.log"
    worker = start(["worker"], env, log)
    try:
        assert wait_until(lambda: len(arrived) == 1, 60), log.read_text()
        worker.send_signal(signal.SIGTERM)  # what systemd and Kubernetes send on a deploy
        try:
            code = worker.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit after SIGTERM\n{log.read_text()}")
    finally:
        stop(worker, signal.SIGKILL)
    assert code == 0, log.read_text()
    assert len(smtp_server.messages) == 1
    with rt.unit_of_work() as session:
        message = session.scalars(select(Message)).one()
        assert message.status == "sent", (message.status, message.reason, log.read_text())
        step = session.scalars(select(Job).where(Job.kind == "step")).one()
        assert step.status == "done"
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert "Shutting down gracefully..." in messages
    assert "worker stopped" in messages
