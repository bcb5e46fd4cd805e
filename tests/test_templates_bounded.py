"""Issue 16, finding 1: one tenant's template must not stall every tenant.

Templates render outside every write transaction (a step's claim, a dry-run's
request), under a time and size budget; what can never render within the budget is
refused when it is saved, with the field's path.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from storeflow.core import clock
from storeflow.core.storage.tables import Company
from storeflow.core.work import tasks
from storeflow.rules import actions, dryrun, schema, templates
from storeflow.rules.templates import BudgetExceeded, Limits, check_template, render
from tests.rulekit import ORDER, define, emit, ledger, runs, sequence, steps_of

# The two bombs, and the one that took 2.3 s per PUT.
LOOP_BOMB = "{% for i in range(100000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}"
MEMORY_BOMB = "{{ 'a' * 10**10 }}"
CENTER_BOMB = "{{ 'a'|center(200000000) }}"
# Passes a trial render without data, explodes with it: stopped when it is sent.
DATA_BOMB = "{% for i in range(event.n) %}{% for j in range(event.n) %}{% endfor %}{% endfor %}"

FAST = Limits(seconds=0.2)


@pytest.fixture
def short_budget(monkeypatch: pytest.MonkeyPatch) -> Limits:
    limits = Limits(seconds=0.3)
    monkeypatch.setattr(templates, "LIMITS", limits)
    return limits


# --- stopped at render time --------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        LOOP_BOMB,
        "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
        "{% macro m(n) %}{% for i in range(100000) %}{% endfor %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    ],
)
def test_a_template_that_runs_too_long_is_stopped(source: str) -> None:
    with pytest.raises(BudgetExceeded, match="time budget"):
        render(source, limits=FAST)


@pytest.mark.parametrize(
    "source",
    [
        MEMORY_BOMB,
        CENTER_BOMB,
        "{{ 'a'.ljust(10**9) }}",
        "{{ '%01000000000d'|format(1) }}",
        "{{ '{:>1000000000}'.format(1) }}",
        "{{ 2 ** 100000 }}",
        "{{ (['a'] * 100000)|join('x' * 100000) }}",
        "{{ ('a' * 100000)|replace('', 'b' * 1000) }}",
        "{{ ('a\n' * 200000)|indent(1000) }}",
        "{{ range(10)|batch(10**9, 'x')|list }}",
        # doubling: through a namespace, macro arguments, references in a list
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}",
        "{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m('ab') }}",
        "{% set s = 'x' * 1000000 %}{{ [s, s, s, s, s, s, s, s] }}",
        "{% set s = 'x' * 1000000 %}{% set a = [s, s] %}{% set b = [a, a] %}{{ b|tojson }}",
        "{% set s = 'x' * 1000000 %}{{ '%s' % ([s, s],) }}",
        # text captured by a block counts, not only what reaches the output
        "{% set x %}{% for i in range(100000) %}{% for j in range(100) %}aaaaaaaaaaaa"
        "{% endfor %}{% endfor %}{% endset %}{{ x|length }}",
    ],
)
def test_a_template_that_would_build_too_much_is_stopped_before_it_does(source: str) -> None:
    with pytest.raises(BudgetExceeded, match="limit|not supported"):
        render(source, limits=FAST)


def test_the_output_is_capped() -> None:
    source = "{% for i in range(100) %}{{ 'x' * 1000 }}{% endfor %}"
    assert render(source) == "x" * 100_000
    with pytest.raises(BudgetExceeded, match="output limit"):
        render(source, limits=Limits(output=50_000))


def test_ordinary_templates_render_as_before() -> None:
    event = {"totalCents": 4780, "currency": "EUR", "lineItems": [{"title": "Tea"}] * 3}
    source = "{% for item in event.lineItems %}{{ loop.index }}. {{ item.title }}\n{% endfor %}"
    assert render(source, event=event) == "1. Tea\n2. Tea\n3. Tea\n"
    assert render("{{ 'ab' * 3 }}|{{ '%5s'|format('x') }}|{{ 2 ** 10 }}") == "ababab|    x|1024"


def test_lists_and_dicts_cannot_be_changed_from_a_template() -> None:
    assert render("{% set l = [1] %}{{ l.append(2) }}{{ l }}") == "[1]"


# --- refused at save time ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "source", "message"),
    [
        ("body", LOOP_BOMB, "its loops run 200,000,000 times"),
        ("subject", MEMORY_BOMB, "'*' would exceed the size limit"),
        ("html", CENTER_BOMB, "center would exceed the size limit"),
    ],
)
def test_bombs_are_refused_when_saved_with_the_step_s_path(
    client: Any, tenant: Any, field: str, source: str, message: str
) -> None:
    step = {"subject": "Hi", "body": "Hello", field: source}
    data = sequence("bomb", steps=[{"delay": {"minutes": 5}}, {"email": step}])
    response = client.put("/api/sequences/bomb", json=data, headers=tenant.auth)
    assert response.status_code == 422
    (detail,) = response.get_json()["error"]["details"]
    assert detail["path"] == f"$.steps[1].email.{field}"
    assert "cannot render within its budget" in detail["message"]
    assert message in detail["message"]


def test_a_template_that_needs_its_data_is_accepted_at_save_time() -> None:
    assert check_template(DATA_BOMB) is None
    assert check_template("{% if 'a' > 1 %}x{% endif %}") is None  # fails only when sent


def test_too_long_a_template_is_refused() -> None:
    problem = check_template("x" * (templates.MAX_SOURCE + 1))
    assert problem is not None and problem.startswith("template too long")


# --- rendering happens outside the write transaction -------------------------------------


def test_a_slow_template_fails_its_message_with_the_field_named(rt, tenant, short_budget):
    define(rt, tenant.company_id, sequence("slow", steps=[{"email": _slow_step()}]))
    emit(rt, tenant.company_id, ORDER, properties={"n": 100000})
    (message,) = ledger(rt, tenant.company_id)
    assert message.status == "failed"
    assert message.reason.startswith("could not render: body: it ran longer than its time budget")
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "completed"
    assert steps_of(rt, run.id)[0].status == "failed"


def test_another_company_writes_while_a_slow_template_renders(
    rt, tenant, other_tenant, monkeypatch, short_budget
):
    """On SQLite a write transaction holds the database's one write lock: rendering in
    the claim's transaction blocked every other company's writes (webhooks, sync)."""
    monkeypatch.setattr(templates, "LIMITS", Limits(seconds=2.0))  # ample for one write
    rt.waker = None  # run the step job by hand, in a thread of its own
    define(rt, tenant.company_id, sequence("slow", steps=[{"email": _slow_step()}]))
    emit(rt, tenant.company_id, ORDER, properties={"n": 100000})
    tasks.drain(rt, limit=1)  # the event job: the step job is now due
    rendering, rendered = threading.Event(), threading.Event()
    real_render = actions.EmailAction.render

    def observed_render(self: Any, *args: Any) -> Any:
        rendering.set()
        try:
            return real_render(self, *args)
        finally:
            rendered.set()

    monkeypatch.setattr(actions.EmailAction, "render", observed_render)
    worker = threading.Thread(target=tasks.drain, args=(rt,))
    worker.start()
    try:
        assert rendering.wait(10)
        emit(rt, other_tenant.company_id, ORDER, "bob@example.com")  # another company's write
        assert not rendered.is_set()  # it went through while the template was rendering
    finally:
        worker.join()
    (message,) = ledger(rt, tenant.company_id)
    assert message.status == "failed" and "time budget" in message.reason


def test_a_dry_run_renders_subjects_under_the_budget_and_says_why_not(
    rt, tenant, short_budget, monkeypatch
):
    data = sequence("slow", steps=[{"email": {**_slow_step(), "subject": DATA_BOMB}}])
    define(rt, tenant.company_id, data)
    rt.waker = None
    emit(rt, tenant.company_id, ORDER, properties={"n": 100000})
    emit(rt, tenant.company_id, ORDER, "bob@example.com", properties={"n": 100000})
    monkeypatch.setattr(dryrun, "RENDER_SECONDS", 0.4)
    with rt.unit_of_work() as session:
        company = session.get_one(Company, tenant.company_id)
        simulated = dryrun.simulate(
            session, company, schema.structure_sequence(data), days=1, limit=10, now=clock.now()
        )
        session.rollback()
    details = [r["steps"][0]["detail"] for r in simulated.data["results"]]
    assert details == ["subject not rendered"] * 2  # nothing rendered inside the transaction
    report = simulated.rendered(seconds=0.4)
    details = [r["steps"][0]["detail"] for r in report["results"]]
    assert details[0].startswith("would fail to render: subject: it ran longer")
    assert "budget" in details[1]


def _slow_step() -> dict[str, str]:
    return {"subject": "Your order", "body": DATA_BOMB}
