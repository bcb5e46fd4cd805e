"""The operator CLI: --version, list and revoke, jobs, bulk replay, one-line infrastructure errors."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import version

import attrs
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from storeflow.core import accounts, clock, config
from storeflow.core.runtime import Runtime
from storeflow.core.storage.tables import ApiKey, InboundDelivery, Job, Membership, User
from storeflow.core.work import outbox, tasks
from storeflow.web.cli import cli
from tests.test_webhook_flow import send


def invoke(rt, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), obj=rt, input=input)


def ok(rt, *args: str, input: str | None = None) -> str:
    result = invoke(rt, *args, input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_version_is_the_installed_distributions():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"storeflow, version {version('storeflow')}"


def test_api_keys_are_listed_and_revoked_by_prefix_or_id(rt, client, tenant):
    with rt.unit_of_work() as session:
        second = accounts.create_api_key(session, accounts.company_by_slug(session, tenant.slug))
    listing = ok(rt, "api-keys", "list", "--company", tenant.slug)
    assert tenant.api_key[:12] in listing and second[:12] in listing
    assert tenant.api_key not in listing  # never the key itself
    assert client.get("/api/integrations", headers=tenant.auth).status_code == 200

    assert "revoked" in ok(rt, "api-keys", "revoke", tenant.api_key[:12])
    assert client.get("/api/integrations", headers=tenant.auth).status_code == 401
    other = {"Authorization": f"Bearer {second}"}
    assert client.get("/api/integrations", headers=other).status_code == 200

    with rt.unit_of_work() as session:
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.prefix == second[:12])).one()
    ok(rt, "api-keys", "revoke", str(key_id))
    assert client.get("/api/integrations", headers=other).status_code == 401

    ambiguous = invoke(rt, "api-keys", "revoke", "sf_live_")
    assert ambiguous.exit_code == 1 and "ambiguous_key" in ambiguous.output
    missing = invoke(rt, "api-keys", "revoke", "999999")
    assert missing.exit_code == 1 and "api_key_not_found" in missing.output
    assert "Traceback" not in missing.output


def test_integrations_are_listed_and_revoked(rt, client, tenant, other_tenant):
    listing = ok(rt, "integrations", "list", "--company", tenant.slug)
    assert tenant.integration_id in listing and other_tenant.integration_id not in listing
    assert send(client, tenant, "order.created", {"id": 1}).status_code != 401

    ok(rt, "integrations", "revoke", tenant.integration_id)
    rejected = send(client, tenant, "order.created", {"id": 2})
    assert rejected.status_code in (401, 403, 404, 410), rejected.get_json()
    listing = ok(rt, "integrations", "list", "--status", "disconnected")
    assert tenant.integration_id in listing and other_tenant.integration_id not in listing
    bogus = invoke(rt, "integrations", "list", "--status", "bogus")
    assert bogus.exit_code == 2 and "bogus" in bogus.output


def test_companies_and_users_are_listed_and_revoked(rt, client, tenant, other_tenant):
    ok(
        rt,
        "users",
        "create",
        "ops@example.com",
        "--company",
        tenant.slug,
        "--role",
        "owner",
        "--password-stdin",
        input="a long enough password 1\n",
    )
    companies = ok(rt, "companies", "list")
    assert tenant.slug in companies and other_tenant.slug in companies
    assert "ops@example.com\towner of acme" in ok(rt, "users", "list")

    declined = invoke(rt, "companies", "revoke", tenant.slug, input="n\n")
    assert declined.exit_code == 1  # aborted: nothing changed
    assert client.get("/api/integrations", headers=tenant.auth).status_code == 200

    out = ok(rt, "companies", "revoke", tenant.slug, "--yes")
    assert "1 API key(s), 1 integration(s) disconnected, 1 member(s) removed" in out
    assert client.get("/api/integrations", headers=tenant.auth).status_code == 401
    assert client.get("/api/integrations", headers=other_tenant.auth).status_code == 200
    with rt.unit_of_work() as session:
        assert session.scalars(select(Membership)).all() == []
        user = session.scalars(select(User)).one()
        assert user.session_version == 1  # signed-in pages end too

    ok(rt, "users", "create", "ops@example.com", "--company", other_tenant.slug, "--role", "admin", "--password-stdin", input="a long enough password 1\n")  # fmt: skip
    assert "1 membership(s) removed" in ok(rt, "users", "revoke", "ops@example.com")
    missing = invoke(rt, "users", "revoke", "nobody@example.com")
    assert missing.exit_code == 1 and "user_not_found" in missing.output


def test_dead_jobs_are_listed_retried_and_discarded(rt, tenant):
    rt.settings = attrs.evolve(rt.settings, job_max_attempts=1)
    rt.waker = None
    with rt.unit_of_work() as session:
        dead = [
            outbox.add(session, company_id=tenant.company_id, kind="retired", key=f"k{n}")
            for n in range(3)
        ]
        waiting = outbox.add(
            session,
            company_id=tenant.company_id,
            kind="retired",
            key="later",
            available_at=clock.now() + timedelta(days=1),
        )
    tasks.drain(rt)
    listing = ok(rt, "jobs", "list", "--status", "dead")
    assert [int(line.split("\t")[0]) for line in listing.splitlines()[1:]] == sorted(
        dead, reverse=True
    )
    assert "LookupError" in listing
    assert invoke(rt, "jobs", "list", "--status", "bogus").exit_code == 2

    refused = invoke(rt, "jobs", "retry", str(waiting))
    assert refused.exit_code == 1 and "job_not_dead" in refused.output
    assert invoke(rt, "jobs", "retry").exit_code == 2  # neither ids nor --all-dead

    assert "1 dead job(s) queued again" in ok(rt, "jobs", "retry", str(dead[0]))
    with rt.unit_of_work() as session:
        job = session.get_one(Job, dead[0])
        assert (job.status, job.attempts) == ("pending", 0)

    assert "2 dead job(s) discarded" in ok(rt, "jobs", "discard", "--all-dead", "--yes")
    with rt.unit_of_work() as session:
        left = {job.id: job.status for job in session.scalars(select(Job))}
    assert left == {dead[0]: "pending", waiting: "pending"}


def test_failed_deliveries_are_replayed_in_bulk(rt, client, tenant, other_tenant):
    for n in range(3):
        assert (
            send(client, tenant, "order.created", b'{"id": %d, "status": ' % n).status_code == 400
        )
    assert send(client, other_tenant, "order.created", b'{"id": 9, ').status_code == 400
    clock.travel(timedelta(days=10))
    assert send(client, tenant, "order.created", b'{"id": 4, ').status_code == 400

    assert "1 delivery would be queued again" in ok(
        rt, "deliveries", "replay", "--status", "failed", "--since", "1d", "--dry-run"
    )
    out = ok(rt, "deliveries", "replay", "--status", "failed", "--company", tenant.slug)
    assert "4 deliveries queued again" in out
    with rt.unit_of_work() as session:
        replays = {
            row.company_id: row.headers.get("x-storeflow-replays")
            for row in session.scalars(select(InboundDelivery))
        }
    assert replays == {tenant.company_id: "1", other_tenant.company_id: None}
    both = invoke(rt, "deliveries", "replay", "1", "--status", "failed")
    assert both.exit_code == 2
    bad_since = invoke(rt, "deliveries", "replay", "--status", "failed", "--since", "soon")
    assert bad_since.exit_code == 2 and "7d" in bad_since.output


def test_infrastructure_errors_are_one_line_with_a_hint(tmp_path):
    settings = config.Settings(
        var_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'empty.db'}",
        secret_key="k",
        queue_immediate=True,
    )
    rt = Runtime.build(settings)
    try:
        result = invoke(rt, "companies", "list")
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "run `storeflow db upgrade`" in lines[0]
        assert "no such table" in lines[0]
        full = invoke(rt, "--traceback", "companies", "list")
        assert isinstance(full.exception, OperationalError)
    finally:
        rt.close()


@pytest.mark.parametrize("age", ["0", "soon"])
def test_prune_catches_up_with_the_retention_ages(rt, client, tenant, age):
    for n in range(3):
        send(client, tenant, "order.created", b'{"id": %d, ' % n)
    rt.settings = attrs.evolve(rt.settings, retention_batch=2, failed_delivery_retention_days=1)
    if age == "soon":
        clock.travel(timedelta(days=2))
    out = ok(rt, "prune")
    pruned = 3 if age == "soon" else 0
    assert f"pruned 0 deliveries, {pruned} failed deliveries" in out
    with rt.unit_of_work() as session:
        assert len(session.scalars(select(InboundDelivery)).all()) == 3 - pruned
