"""Rule files: what loads, and one exact file:line message per problem otherwise."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from storeflow.rules.loader import Problem, RuleErrors, check_path, load_path, parse_text
from storeflow.rules.operators import OPERATORS
from storeflow.rules.schema import EVENT_NAMES, Email, Filter

OPERATOR_LIST = ", ".join(OPERATORS)

REFILL = """\
id: coffee-refill
name: Coffee refill reminder
status: active
priority: 50
trigger:
  event: ecommerce.replenishment_due
  filters:
    - {path: "product.providerProductId", operator: one_of, value: ["501", "502"]}
enrollment:
  mode: matching_field
  fieldPath: product.providerVariantId
steps:
  - delay: {days: 0, hours: 0, minutes: 0, seconds: 30}
  - email:
      subject: "Time to restock {{ product.title }}"
      body: |
        Hello {{ subscriber.firstName|default("there") }},
        time to restock.
"""

CART = """\
sequences:
  - id: cart-1h
    name: Cart reminder
    trigger: {event: ecommerce.cart_abandoned}
    steps:
      - email: {subject: "Your cart", body: "{{ event.checkoutUrl }}"}
  - id: cart-vip
    name: VIP cart
    priority: 90
    trigger:
      event: ecommerce.cart_abandoned
      subscriberFilters:
        - {path: subscriber.tags, operator: contains, value: vip}
    steps:
      - tag: {add: [vip-cart]}
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Relative paths, so messages read "rules/x.yaml:3 ..." as the CLI prints them.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules").mkdir()
    return Path("rules")


def messages(root: Path) -> list[str]:
    return [str(problem) for problem in check_path(root)]


def test_a_directory_loads_every_file_in_order(rules_dir: Path) -> None:
    write(rules_dir, "refill.yaml", REFILL)
    write(rules_dir, "carts/abandoned.yml", CART)
    write(rules_dir, ".hidden.yaml", "not: [valid")
    write(rules_dir, ".git/x.yaml", "not: [valid")
    write(rules_dir, "notes.txt", "ignored")
    sequences = load_path(rules_dir)
    assert [s.id for s in sequences] == ["cart-1h", "cart-vip", "coffee-refill"]
    assert check_path(rules_dir) == []
    refill = sequences[2]
    assert refill.trigger.filters == [
        Filter(path="product.providerProductId", operator="one_of", value=["501", "502"])
    ]
    assert refill.steps[1] == Email(
        subject="Time to restock {{ product.title }}",
        body='Hello {{ subscriber.firstName|default("there") }},\ntime to restock.\n',
    )


def test_a_single_file_loads(rules_dir: Path) -> None:
    path = write(rules_dir, "refill.yaml", REFILL)
    assert [s.id for s in load_path(path)] == ["coffee-refill"]


def test_the_example_message_format(rules_dir: Path) -> None:
    write(rules_dir, "refill.yaml", REFILL.replace("operator: one_of", "operator: is_one_of"))
    assert messages(rules_dir) == [
        f"rules/refill.yaml:8 trigger.filters[0].operator: must be one of {OPERATOR_LIST}"
    ]


def test_invalid_files_give_one_message_per_problem_and_load_nothing(rules_dir: Path) -> None:
    write(rules_dir, "good.yaml", REFILL)
    write(
        rules_dir,
        "bad.yaml",
        """\
        id: bad
        name: Bad
        priority: high
        trigger:
          event: ecommerce.order_place
          filters:
            - path: lineItems[].providerProductId
              operator: like
              value: "501"
            - {path: totalCents, operator: greater_than, value: 10}
        steps:
          - email:
              subject: "Hi {{ subscriber.firstName"
              body: ok
          - dealy: {days: 1}
        """,
    )
    write(
        rules_dir,
        "eleven.yaml",
        "id: eleven\nname: Eleven\ntrigger:\n  event: ecommerce.order_placed\n  filters:\n"
        + "    - {path: totalCents, operator: exists}\n" * 11
        + "steps:\n  - tag: {add: [x]}\n",
    )
    with pytest.raises(RuleErrors) as caught:
        load_path(rules_dir)
    assert [str(p) for p in caught.value.problems] == [
        "rules/bad.yaml:3 priority: expected an integer, got string 'high'",
        "rules/bad.yaml:5 trigger.event: unknown event 'ecommerce.order_place'; did you mean ecommerce.order_placed?",
        f"rules/bad.yaml:8 trigger.filters[0].operator: must be one of {OPERATOR_LIST}",
        "rules/bad.yaml:13 steps[0].email.subject: template syntax error: unexpected end of template,"
        " expected 'end of print statement' (template line 1)",
        "rules/bad.yaml:15 steps[1].dealy: unknown step type 'dealy'; must be one of delay, email, webhook, tag, branch",
        "rules/eleven.yaml:5 trigger.filters: at most 10 filters allowed, got 11",
    ]
    assert str(caught.value).splitlines()[0] == "6 problems in rule files:"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "id: x\nname: X\ntrigger: {event: ecommerce.order_placed}\nsteps:\n  - tag: {add: [a]}\nstatuss: draft\n",
            ["rules/r.yaml:6 statuss: unknown key"],
        ),
        (
            "id: x\nname: X\ntrigger:\n  event: signup\nsteps: [{tag: {add: [a]}}]\n",
            [
                "rules/r.yaml:4 trigger.event: unknown event 'signup'; must be one of "
                + ", ".join(EVENT_NAMES)
            ],
        ),
        (
            "id: x\nname: X\ntrigger: {event: ecommerce.order_placed}\nstop:\n  - type: event_received\n"
            "    event: ecommerce.order_placed\n    match:\n      - {entryPath: 'a[]', eventPath: b}\n"
            "      - {entryPath: a}\nsteps: [{tag: {add: [a]}}]\n",
            ["rules/r.yaml:9 stop[0].match[1].eventPath: required"],
        ),
        (
            "id: x\nname: X\ntrigger: {event: ecommerce.order_placed}\nsteps:\n  - webhook:\n      url: 12\n",
            ["rules/r.yaml:6 steps[0].webhook.url: expected a string, got integer 12"],
        ),
        (
            "id: x\nname: X\nname: Y\ntrigger: {event: ecommerce.order_placed}\nsteps: [{tag: {add: [a]}}]\n",
            ["rules/r.yaml:3 name: duplicate key 'name'"],
        ),
        (
            "id: x\nname: [unclosed\n",
            [
                "rules/r.yaml:3: invalid YAML: while parsing a flow sequence expected ',' or ']', but got '<stream end>'"
            ],
        ),
        ("", ["rules/r.yaml:1: empty file: expected a sequence, or a list under sequences:"]),
        (
            "- a\n- b\n",
            ["rules/r.yaml:1: expected a sequence (a mapping), or a list under sequences:"],
        ),
        ("sequences: {id: x}\n", ["rules/r.yaml:1: sequences: must be a list of sequences"]),
        (
            "a: 1\n---\nb: 2\n",
            [
                "rules/r.yaml:2: invalid YAML: expected a single document in the stream but found another document"
            ],
        ),
    ],
)
def test_problem_messages(rules_dir: Path, text: str, expected: list[str]) -> None:
    write(rules_dir, "r.yaml", text)
    assert messages(rules_dir) == expected


def test_duplicate_ids_across_files(rules_dir: Path) -> None:
    write(rules_dir, "a.yaml", CART)
    write(rules_dir, "b.yaml", REFILL.replace("id: coffee-refill", "id: cart-vip"))
    assert messages(rules_dir) == [
        "rules/b.yaml:1 id: duplicate sequence id 'cart-vip' (first defined at rules/a.yaml:7)"
    ]


def test_duplicate_ids_are_found_even_in_invalid_sequences(rules_dir: Path) -> None:
    write(rules_dir, "a.yaml", "sequences:\n  - {id: same, name: A}\n  - {id: same, name: B}\n")
    assert messages(rules_dir) == [
        "rules/a.yaml:2 sequences[0].trigger: required",
        "rules/a.yaml:2 sequences[0].steps: required",
        "rules/a.yaml:3 sequences[1].trigger: required",
        "rules/a.yaml:3 sequences[1].steps: required",
        "rules/a.yaml:3 sequences[1].id: duplicate sequence id 'same' (first defined at rules/a.yaml:2)",
    ]


def test_yaml_scalars_follow_yaml_1_2(rules_dir: Path) -> None:
    # YAML 1.1 would read 10:30 as 630, 0501 as octal 321, "no" as false.
    write(
        rules_dir,
        "w.yaml",
        """\
        id: window
        name: Window
        trigger:
          event: ecommerce.order_placed
          filters:
            - {path: "lineItems[].providerProductId", operator: equals, value: 0501}
            - {path: country, operator: equals, value: no}
            - {path: day, operator: equals, value: 2025-01-01}
            - {path: total, operator: greater_than, value: 10}
            - {path: flag, operator: equals, value: true}
            - {path: rate, operator: less_than, value: 1.5}
        steps:
          - delay: {until: {weekdays: [mon], start: 10:30, end: 18:00, timezone: UTC}}
        """,
    )
    (sequence,) = load_path(rules_dir)
    assert [f.value for f in sequence.trigger.filters] == [
        "0501",
        "no",
        "2025-01-01",
        10,
        True,
        1.5,
    ]
    assert sequence.steps[0].until.start == "10:30"  # type: ignore[union-attr]


def test_a_missing_path_is_a_problem(tmp_path: Path) -> None:
    assert check_path(tmp_path / "nope") == [
        Problem(str(tmp_path / "nope"), None, "", "no such file or directory")
    ]


def test_an_empty_directory_loads_nothing(rules_dir: Path) -> None:
    assert load_path(rules_dir) == []


def test_parse_text() -> None:
    assert [s.id for s in parse_text(CART)] == ["cart-1h", "cart-vip"]
    with pytest.raises(RuleErrors) as caught:
        parse_text(CART.replace("cart-vip", "cart-1h"), "upload.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "upload.yaml:7 sequences[1].id: duplicate sequence id 'cart-1h' (first defined at upload.yaml:2)"
    ]
