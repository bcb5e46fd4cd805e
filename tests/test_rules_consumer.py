"""The rules engine through a real ``storeflow worker`` (Huey consumer) process.

The test process only commits events (no wake-ups); the consumer's sweeper finds the
jobs, runs event jobs (enrol, stop) and step jobs (delay, email over SMTP, a signed
webhook to a local receiver, tag, branch) on its own clock.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from storeflow.core.storage.tables import Company, Enrollment
from storeflow.core.transport import outbound
from tests.conftest import TEST_REDIS_URL
from tests.processes import process_env, start, stop, wait_until
from tests.rulekit import (
    CART,
    ORDER,
    REFILL,
    define,
    emit,
    line,
    no_cap,
    order,
    product,
    subscriber,
)
from tests.test_webhook_step import receiver  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def test_sequences_run_and_stop_in_a_real_consumer(
    rt_smtp,
    tenant,
    smtp_server,
    receiver,  # noqa: F811 - the fixture imported above
    tmp_path,
):
    rt = rt_smtp
    rt.waker = None  # the consumer does all the work
    if TEST_REDIS_URL:
        import redis

        redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    no_cap(rt, tenant.company_id)
    define(
        rt,
        tenant.company_id,
        {
            "id": "cart",
            "name": "Cart recovery",
            "priority": 90,
            "trigger": {"event": CART},
            "steps": [
                {"delay": {"seconds": 3}},
                {"email": {"subject": "Your cart, {{ subscriber.firstName }}", "body": "Back?"}},
                {"webhook": {"url": receiver.url}},
                {"tag": {"add": ["cart-reminded"]}},
                {
                    "branch": {
                        "if": [
                            {
                                "path": "subscriber.tags",
                                "operator": "contains",
                                "value": "cart-reminded",
                            }
                        ],
                        "then": [{"tag": {"add": ["branch-then"]}}],
                        "else": [{"tag": {"add": ["branch-else"]}}],
                    }
                },
            ],
        },
    )
    define(
        rt,
        tenant.company_id,
        {
            "id": "refill",
            "name": "Refill",
            "trigger": {"event": REFILL},
            "steps": [{"delay": {"seconds": 3}}, {"email": {"subject": "Refill", "body": "..."}}],
        },
    )
    env = process_env(
        rt.settings,
        STOREFLOW_SMTP_URL=rt.settings.smtp_url,
        STOREFLOW_SWEEP_SECONDS="0.3",
        **{outbound.ALLOW_ENV: "127.0.0.1"},
    )
    log = tmp_path / "worker.log"
    worker = start(["worker", "--workers", "2"], env, log)
    try:
        emit(rt, tenant.company_id, CART, "ana@example.com", {"cartId": "a"})
        emit(rt, tenant.company_id, CART, "bo@example.com", {"cartId": "b"})
        emit(rt, tenant.company_id, REFILL, "cy@example.com", product("501", "601"))

        def enrolled() -> bool:
            with rt.unit_of_work() as session:
                return len(session.scalars(select(Enrollment.id)).all()) == 3

        assert wait_until(enrolled, 30), log.read_text()
        # While they wait in their delays: bo buys anything, cy buys the same product.
        emit(rt, tenant.company_id, ORDER, "bo@example.com", order(line("9")))
        emit(rt, tenant.company_id, ORDER, "cy@example.com", order(line("501", "611")))

        def finished() -> bool:
            with rt.unit_of_work() as session:
                return all(s != "active" for s in session.scalars(select(Enrollment.status)))

        assert wait_until(finished, 60), log.read_text()
        mail = smtp_server.wait_for(1)
        time.sleep(1.5)  # a duplicate would show up now
    finally:
        stop(worker)
    assert [m["To"] for m in smtp_server.messages] == ["ana@example.com"]
    assert mail[0]["Subject"] == "Your cart, Ana"
    assert mail[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (request,) = receiver.requests
    with rt.unit_of_work() as session:
        secret = session.get_one(Company, tenant.company_id).settings["webhookSigningSecret"]
        runs = {r.email: r for r in session.scalars(select(Enrollment))}
    assert Webhook(secret).verify(request["body"], request["headers"])["data"]["sequence"] == "cart"
    assert runs["ana@example.com"].status == "completed"
    assert runs["bo@example.com"].status == "stopped"
    assert ORDER in runs["bo@example.com"].stop_reason
    assert runs["cy@example.com"].status == "stopped"
    assert runs["cy@example.com"].stop_reason.startswith("default stop[0] event_received")
    assert subscriber(rt, tenant.company_id, "ana@example.com").tags == [
        "cart-reminded",
        "branch-then",
    ]
