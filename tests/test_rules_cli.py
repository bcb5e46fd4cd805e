"""``storeflow rules check | load | test | dry-run``: clear messages, nothing partial."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from storeflow.core.storage.tables import Sequence
from storeflow.web.cli import cli
from tests.rulekit import CART, ORDER, emit, line, order

GOOD = """\
id: good
name: Good
trigger:
  event: ecommerce.order_placed
steps:
  - email: {subject: "Thanks", body: "..."}
"""

BAD_OPERATOR = """\
id: bad-operator
name: Bad operator
trigger:
  event: ecommerce.order_placed
  filters:
    - path: totalCents
      operator: bigger_than
      value: 100
steps:
  - email: {subject: "Hi", body: "..."}
"""

WRONG_TYPES = """\
id: wrong-types
name: Wrong types
priority: "50"
trigger:
  event: ecommerce.order_placed
steps:
  - delay: {minutes: ten}
"""

UNKNOWN_EVENT = """\
id: unknown-event
name: Unknown event
trigger:
  event: ecommerce.order_shipped
steps:
  - tag: {add: [x]}
"""

TEMPLATE_ERROR = """\
id: template-error
name: Template error
trigger:
  event: ecommerce.order_placed
steps:
  - email:
      subject: "Hi {{ subscriber.firstName "
      body: "..."
"""

ELEVEN_FILTERS = (
    """\
id: eleven
name: Eleven filters
trigger:
  event: ecommerce.order_placed
  filters:
"""
    + "".join(f"    - {{path: p{i}, operator: exists}}\n" for i in range(11))
    + """\
steps:
  - tag: {add: [x]}
"""
)

EXPECTED = [
    "bad-operator.yaml:7 trigger.filters[0].operator: must be one of exists, not_exists, "
    "equals, not_equals, one_of, contains, greater_than, less_than",
    "eleven.yaml:5 trigger.filters: at most 10 filters allowed, got 11",
    "template-error.yaml:7 steps[0].email.subject: template syntax error: unexpected end of "
    "template, expected 'end of print statement' (template line 1)",
    "unknown-event.yaml:4 trigger.event: unknown event 'ecommerce.order_shipped'; did you mean "
    "ecommerce.order_placed?",
    "wrong-types.yaml:3 priority: expected an integer, got string '50'",
    "wrong-types.yaml:7 steps[0].delay.minutes: expected an integer, got string 'ten'",
]


def rules_dir(root: Path, with_bad: bool = True) -> Path:
    folder = root / "rules"
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD)
    if with_bad:
        for name, text in [
            ("bad-operator", BAD_OPERATOR),
            ("wrong-types", WRONG_TYPES),
            ("unknown-event", UNKNOWN_EVENT),
            ("template-error", TEMPLATE_ERROR),
            ("eleven", ELEVEN_FILTERS),
        ]:
            (folder / f"{name}.yaml").write_text(text)
    return folder


def invoke(*args: str, rt=None):
    return CliRunner().invoke(cli, list(args), obj=rt)


def test_check_prints_one_line_per_problem_with_file_and_line(tmp_path):
    folder = rules_dir(tmp_path)
    result = invoke("rules", "check", str(folder))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith("Error:")]
    assert [line.removeprefix(f"{folder}/") for line in lines] == EXPECTED
    assert "6 problem(s)" in result.stderr


def test_check_of_valid_files(tmp_path):
    folder = rules_dir(tmp_path, with_bad=False)
    result = invoke("rules", "check", str(folder))
    assert result.exit_code == 0 and "ok: 1 sequence(s)" in result.output


def test_load_of_a_directory_with_problems_loads_nothing(rt, tenant, tmp_path):
    folder = rules_dir(tmp_path)
    result = invoke("rules", "load", str(folder), "--company", tenant.slug, rt=rt)
    assert result.exit_code == 1
    assert "nothing was loaded" in result.stderr
    assert len([line for line in result.stderr.splitlines() if ".yaml:" in line]) == 6
    with rt.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Sequence)) == 0
    (folder / "bad-operator.yaml").unlink()
    for name in ("wrong-types", "unknown-event", "template-error", "eleven"):
        (folder / f"{name}.yaml").unlink()
    result = invoke("rules", "load", str(folder), "--company", tenant.slug, rt=rt)
    assert result.exit_code == 0, result.output
    with rt.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Sequence)) == 1


def test_rules_test_says_which_sequences_match_and_why_not(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "mugs.yaml").write_text(
        GOOD.replace("id: good", "id: mugs").replace(
            "  event: ecommerce.order_placed\n",
            "  event: ecommerce.order_placed\n  filters:\n"
            "    - {path: 'lineItems[].providerProductId', operator: equals, value: '7'}\n"
            "  subscriberFilters:\n"
            "    - {path: subscriber.ordersCount, operator: less_than, value: 2}\n",
        )
    )
    (folder / "all.yaml").write_text(GOOD.replace("id: good", "id: all"))
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "name": "ecommerce.order_placed",
                "properties": {"lineItems": [{"providerProductId": "8"}]},
                "subscriber": {"ordersCount": 3},
            }
        )
    )
    result = invoke("rules", "test", str(folder), "--event", str(event))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "ecommerce.order_placed: 1 of 2 sequence(s) match",
        "MATCH     all (priority 50)",
        "no match  mugs",
        "          - filter[0] lineItems[].providerProductId equals '7': got ['8']",
        "          - subscriberFilter[0] subscriber.ordersCount less_than 2: got [3]",
    ]
    as_json = invoke("rules", "test", str(folder), "--event", str(event), "--json")
    report = json.loads(as_json.output)
    assert [s["wouldEnrol"] for s in report["sequences"]] == [True, False]


def test_rules_test_takes_an_event_from_the_api(rt, client, tenant, tmp_path):
    emit(rt, tenant.company_id, CART, properties={"cartId": "c1"})
    body = client.get("/api/events?limit=1", headers=tenant.auth).get_json()["events"][0]
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"success": True, "event": body}))
    (tmp_path / "cart.yaml").write_text(
        GOOD.replace("ecommerce.order_placed", CART).replace("id: good", "id: cart")
    )
    result = invoke("rules", "test", str(tmp_path / "cart.yaml"), "--event", str(event))
    assert result.exit_code == 0 and "MATCH     cart" in result.output


def test_rules_test_reports_bad_input(tmp_path):
    folder = rules_dir(tmp_path)
    event = tmp_path / "event.json"
    event.write_text("{not json")
    result = invoke("rules", "test", str(folder / "good.yaml"), "--event", str(event))
    assert result.exit_code == 1 and "not a JSON file" in result.output
    event.write_text(json.dumps({"name": ORDER}))
    result = invoke("rules", "test", str(folder), "--event", str(event))
    assert result.exit_code == 1 and "problem(s) in rule files" in result.stderr


def test_dry_run_of_a_file_or_a_stored_sequence(rt, tenant, tmp_path):
    emit(rt, tenant.company_id, ORDER, properties=order(line("1")))
    folder = rules_dir(tmp_path, with_bad=False)
    result = invoke("rules", "dry-run", str(folder / "good.yaml"), "--company", tenant.slug, rt=rt)
    assert result.exit_code == 0, result.output
    assert "dry-run of good: 1 event(s)" in result.output
    assert "would send 1 email(s)" in result.output
    assert "email would_send" in result.output
    missing = invoke("rules", "dry-run", "nope", "--company", tenant.slug, rt=rt)
    assert missing.exit_code == 1 and "sequence_not_found" in missing.output
    invoke("rules", "load", str(folder), "--company", tenant.slug, rt=rt)
    stored = invoke("rules", "dry-run", "good", "--company", tenant.slug, "--json", rt=rt)
    assert json.loads(stored.output)[0]["summary"]["entered"] == 1
