"""/metrics (Prometheus text, table state at scrape time) and /readyz (503 when not ready)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from storeflow.core import clock, config
from storeflow.core.runtime import Runtime
from storeflow.core.storage import migrate
from storeflow.core.work import outbox, tasks
from storeflow.web.app import create_app
from tests.conftest import TEST_DATABASE_URL
from tests.test_webhook_flow import send


def _samples(client, **headers) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_show_a_dead_job_once_one_is_parked(rt, client, tenant):
    rt.settings = attrs.evolve(rt.settings, job_max_attempts=1)
    rt.waker = None  # the test runs the jobs itself
    with rt.unit_of_work() as session:
        # No plugin registers this kind: the first attempt fails and, with one attempt
        # allowed, the job is parked as dead.
        outbox.add(session, company_id=tenant.company_id, kind="retired", key="k")
    before = _samples(client)
    assert _value(before, "storeflow_table_metrics_up") == 1
    assert _value(before, "storeflow_jobs", kind="retired", status="pending") == 1
    assert _value(before, "storeflow_jobs", kind="retired", status="dead") is None

    tasks.drain(rt)
    after = _samples(client)
    assert _value(after, "storeflow_jobs", kind="retired", status="dead") == 1
    assert _value(after, "storeflow_jobs", kind="retired", status="pending") is None
    # The first scrape was counted by the second.
    assert (
        _value(after, "storeflow_http_requests_total", method="GET", route="/metrics", status="200")
        == 1
    )


def test_metrics_show_waiting_work_failed_deliveries_and_integrations(rt, client, tenant):
    rt.waker = None
    with rt.unit_of_work() as session:
        outbox.add(session, company_id=tenant.company_id, kind="retired", key="waits")
    assert send(client, tenant, "order.created", b'{"id": 1, "status": ').status_code == 400
    clock.travel(timedelta(minutes=2))
    samples = _samples(client)
    age = _value(samples, "storeflow_job_oldest_pending_age_seconds")
    assert age is not None and 120 <= age < 180
    assert _value(samples, "storeflow_deliveries", status="failed") == 1
    assert _value(samples, "storeflow_integrations", status="connected", health="healthy") == 1
    route = "/api/<provider_name>/webhooks/<integration_id>"
    assert any(
        name == "storeflow_http_requests_total" and ("route", route) in labels
        for name, labels in samples
    ), sorted(samples)


def test_metrics_with_a_token_need_it(rt, client):
    rt.settings = attrs.evolve(rt.settings, metrics_token="scrape-me")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "unauthenticated"
    assert _samples(client, Authorization="Bearer scrape-me")


# --- /readyz ----------------------------------------------------------------------------


def _app_for(tmp_path: Path, database_url: str, **overrides) -> Iterator:
    options = {"queue_immediate": True, **overrides}
    settings = config.Settings(
        var_dir=tmp_path / "var",
        database_url=database_url,
        secret_key="test-secret-key",
        **options,
    )
    runtime = Runtime.build(settings)
    try:
        yield create_app({"TESTING": True}, runtime=runtime).test_client()
    finally:
        runtime.close()


def test_readyz_is_ready_when_everything_answers_and_healthz_stays_liveness(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    body = ready.get_json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "queue": True,
        "migrations": True,
    }
    assert client.get("/healthz").get_json() == {"success": True, "status": "ok"}


def test_readyz_is_503_when_the_database_cannot_be_reached(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'storeflow.db'}"
    for client in _app_for(tmp_path, url):
        answer = client.get("/readyz")
        assert answer.status_code == 503
        checks = answer.get_json()["checks"]
        assert checks["database"]["ok"] is False and "unable to open" in checks["database"]["error"]
        assert checks["queue"]["ok"] is True
        assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_readyz_is_503_when_the_schema_is_behind_with_the_fix_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0009_suppressions")
    for client in _app_for(tmp_path, url):
        answer = client.get("/readyz")
        assert answer.status_code == 503
        migrations = answer.get_json()["checks"]["migrations"]
        assert migrations["ok"] is False
        assert "0009_suppressions" in migrations["error"]
        assert "storeflow db upgrade" in migrations["error"]
        assert answer.get_json()["checks"]["database"]["ok"] is True


def test_readyz_is_503_when_the_queue_cannot_be_reached(tmp_path, database_url):
    for client in _app_for(
        tmp_path, database_url, queue_immediate=False, redis_url="redis://127.0.0.1:1/0"
    ):
        answer = client.get("/readyz")
        assert answer.status_code == 503
        checks = answer.get_json()["checks"]
        assert checks["queue"]["ok"] is False and checks["database"]["ok"] is True


@pytest.mark.postgres
def test_readyz_is_503_when_postgresql_refuses_the_database(tmp_path, database_url):
    missing = make_url(TEST_DATABASE_URL).set(database="storeflow_no_such_database")
    url = missing.render_as_string(hide_password=False)
    for client in _app_for(tmp_path, url):
        answer = client.get("/readyz")
        assert answer.status_code == 503
        database = answer.get_json()["checks"]["database"]
        assert database["ok"] is False and "storeflow_no_such_database" in database["error"]
