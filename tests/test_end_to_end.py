"""End to end over real HTTP: gunicorn + a Huey consumer, as `make run` starts them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from click.testing import CliRunner

from tests.processes import web_and_worker
from tests.providers import woocommerce_payloads as fixtures
from tests.test_webhook_flow import HOODIE_RULE, hoodie_order, load_rule

pytestmark = pytest.mark.slow


@pytest.fixture
def service(rt_smtp, tmp_path):
    log = tmp_path / "service.log"
    with web_and_worker(rt_smtp, log) as base:
        yield base, log


def test_signed_order_over_http_sends_one_email(rt_smtp, service, tenant, smtp_server):
    base, log = service
    load_rule(rt_smtp, tenant.company_id, HOODIE_RULE)
    body = fixtures.php_json(hoodie_order())
    headers = fixtures.webhook_headers("order.created", body, tenant.webhook_secret)
    url = f"{base}/api/woocommerce/webhooks/{tenant.integration_id}"

    def post(_: int) -> int:
        return requests.post(url, data=body, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=3) as pool:  # the same delivery 3 times, concurrently
        assert list(pool.map(post, range(3))) == [200, 200, 200]
    assert len(smtp_server.wait_for(1, timeout=30)) == 1, log.read_text()

    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    events = requests.get(f"{base}/api/events", headers=auth, timeout=10).json()
    assert [e["name"] for e in events["events"]] == ["ecommerce.order_placed"]
    messages = requests.get(f"{base}/api/messages", headers=auth, timeout=10).json()
    assert [m["status"] for m in messages["messages"]] == ["sent"]
    assert len(smtp_server.messages) == 1

    bad = requests.post(url, data=body + b" ", headers=headers, timeout=10)
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_signature"


def test_demo_script_runs_against_the_service(rt_smtp, service, tenant, smtp_server):  # noqa: D103
    """`storeflow demo` replays the scripted store and prints the tables."""
    from storeflow.web import demo

    base, log = service
    with rt_smtp.unit_of_work() as session:
        from storeflow.rules import loader, runner

        for seq in loader.load_path(demo.EXAMPLES):
            runner.save_sequence(session, tenant.company_id, seq)
    info = {
        "baseUrl": base,
        "apiKey": tenant.api_key,
        "integrationId": tenant.integration_id,
        "webhookSecret": tenant.webhook_secret,
    }
    from storeflow.web.cli import cli

    var = rt_smtp.settings.var_dir / "demo-client"
    var.mkdir()
    (var / "demo.json").write_text(json.dumps(info))
    result = CliRunner().invoke(cli, ["demo"], env={"STOREFLOW_VAR_DIR": str(var)})
    assert result.exit_code == 0, result.output + log.read_text()
    assert "ecommerce.order_placed" in result.output
    assert "Enrollments" in result.output and "Messages" in result.output
    mail = smtp_server.wait_for(1, timeout=30)
    assert [m["To"] for m in mail] == ["ana@example.com"]
