"""The sequence schema: every step and stop type, strictness, error paths, exact round-trip."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storeflow.rules.operators import OPERATORS
from storeflow.rules.schema import (
    EVENT_NAMES,
    WEEKDAYS,
    Branch,
    Delay,
    DelayUntil,
    Email,
    Enrollment,
    EventReceived,
    FieldChanged,
    Filter,
    HasTag,
    Issue,
    MatchRule,
    SchemaError,
    Sequence,
    Tag,
    Trigger,
    Unsubscribed,
    Webhook,
    Window,
    step_key,
    structure_sequence,
    unstructure_sequence,
)

# The example of spec/api.md "Sequence schema", as YAML would load it.
API_EXAMPLE: dict[str, Any] = {
    "id": "coffee-refill",
    "name": "Coffee refill reminder",
    "status": "active",
    "priority": 50,
    "trigger": {
        "event": "ecommerce.replenishment_due",
        "filters": [
            {"path": "product.providerProductId", "operator": "one_of", "value": ["501", "502"]}
        ],
    },
    "enrollment": {"mode": "matching_field", "fieldPath": "product.providerVariantId"},
    "stop": [
        {
            "type": "event_received",
            "event": "ecommerce.order_placed",
            "filters": [],
            "match": [
                {
                    "entryPath": "product.providerProductId",
                    "eventPath": "lineItems[].providerProductId",
                }
            ],
        },
        {"type": "has_tag", "tag": "vip"},
    ],
    "steps": [
        {"delay": {"days": 0, "hours": 0, "minutes": 0, "seconds": 30}},
        {
            "email": {
                "subject": "Time to restock {{ product.title }}",
                "body": "...",
                "from": "shop@example.com",
            }
        },
        {"tag": {"add": ["refill-reminded"], "remove": []}},
        {"webhook": {"url": "https://hooks.example.com/refill"}},
    ],
}


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "s",
        "name": "S",
        "trigger": {"event": "ecommerce.order_placed"},
        "steps": [{"tag": {"add": ["x"]}}],
    }
    data.update(changes)
    return data


def problems(data: Any) -> list[str]:
    with pytest.raises(SchemaError) as caught:
        structure_sequence(data)
    return [str(issue) for issue in caught.value.issues]


def test_the_api_example_structures_and_round_trips_exactly() -> None:
    sequence = structure_sequence(copy.deepcopy(API_EXAMPLE))
    assert sequence.trigger.filters == [
        Filter(path="product.providerProductId", operator="one_of", value=["501", "502"])
    ]
    assert sequence.enrollment == Enrollment(
        mode="matching_field", field_path="product.providerVariantId"
    )
    assert sequence.stop == [
        EventReceived(
            event="ecommerce.order_placed",
            match=[
                MatchRule(
                    entry_path="product.providerProductId",
                    event_path="lineItems[].providerProductId",
                )
            ],
        ),
        HasTag(tag="vip"),
    ]
    assert [type(step) for step in sequence.steps] == [Delay, Email, Tag, Webhook]
    assert sequence.steps[1] == Email(
        subject="Time to restock {{ product.title }}", body="...", from_="shop@example.com"
    )
    assert unstructure_sequence(sequence) == API_EXAMPLE
    assert list(unstructure_sequence(sequence)) == list(API_EXAMPLE)  # key order kept


def test_omitted_fields_take_their_defaults_and_stay_omitted() -> None:
    sequence = structure_sequence(minimal())
    assert sequence.status == "active"
    assert sequence.priority == 50
    assert sequence.enrollment is None  # per-event default, applied when compiled
    assert sequence.stop is None
    assert sequence.trigger == Trigger(event="ecommerce.order_placed")
    data = unstructure_sequence(sequence)
    assert "enrollment" not in data and "stop" not in data
    assert data["trigger"] == {"event": "ecommerce.order_placed", "filters": []}


def test_an_explicit_empty_stop_list_is_kept() -> None:
    sequence = structure_sequence(minimal(stop=[]))
    assert sequence.stop == []
    assert unstructure_sequence(sequence)["stop"] == []


@pytest.mark.parametrize(
    ("wire", "step"),
    [
        ({"delay": {"hours": 2}}, Delay(hours=2)),
        (
            {
                "delay": {
                    "until": {
                        "weekdays": ["mon", "fri"],
                        "start": "09:00",
                        "end": "24:00",
                        "timezone": "Europe/Paris",
                    }
                }
            },
            DelayUntil(
                until=Window(
                    weekdays=["mon", "fri"], start="09:00", end="24:00", timezone="Europe/Paris"
                )
            ),
        ),
        ({"email": {"subject": "Hi", "body": "Body"}}, Email(subject="Hi", body="Body")),
        ({"webhook": {"url": "http://localhost:8080/x"}}, Webhook(url="http://localhost:8080/x")),
        ({"tag": {"remove": ["lead"]}}, Tag(remove=["lead"])),
        (
            {
                "branch": {
                    "if": [
                        {"path": "subscriber.ordersCount", "operator": "greater_than", "value": 1}
                    ],
                    "then": [{"tag": {"add": ["repeat"]}}],
                    "else": [
                        {
                            "branch": {
                                "if": [{"path": "totalCents", "operator": "exists"}],
                                "then": [{"delay": {"days": 1}}],
                            }
                        }
                    ],
                }
            },
            Branch(
                if_=[Filter(path="subscriber.ordersCount", operator="greater_than", value=1)],
                then=[Tag(add=["repeat"])],
                else_=[
                    Branch(if_=[Filter(path="totalCents", operator="exists")], then=[Delay(days=1)])
                ],
            ),
        ),
    ],
)
def test_every_step_type(wire: dict[str, Any], step: Any) -> None:
    sequence = structure_sequence(minimal(steps=[wire]))
    assert sequence.steps == [step]
    assert step_key(step) == next(iter(wire))
    assert structure_sequence(unstructure_sequence(sequence)) == sequence


def test_step_kinds_and_delay_duration() -> None:
    assert [cls.kind for cls in (Delay, DelayUntil, Email, Webhook, Tag, Branch)] == [
        "delay",
        "delay_until",
        "email",
        "webhook",
        "tag",
        "branch",
    ]
    assert Delay(days=1, hours=2, minutes=3, seconds=4).duration.total_seconds() == 93784


@pytest.mark.parametrize(
    ("wire", "stop"),
    [
        (
            {
                "type": "event_received",
                "event": "ecommerce.cart_cleared",
                "filters": [{"path": "cartId", "operator": "exists"}],
                "match": [{"entryPath": "cartId", "eventPath": "cartId"}],
                "entryFilters": [
                    {"path": "replenishmentMatch", "operator": "equals", "value": "variant"}
                ],
            },
            EventReceived(
                event="ecommerce.cart_cleared",
                filters=[Filter(path="cartId", operator="exists")],
                match=[MatchRule(entry_path="cartId", event_path="cartId")],
                entry_filters=[
                    Filter(path="replenishmentMatch", operator="equals", value="variant")
                ],
            ),
        ),
        ({"type": "has_tag", "tag": "vip"}, HasTag(tag="vip")),
        (
            {"type": "field_changed", "field": "subscriber.email"},
            FieldChanged(field="subscriber.email"),
        ),
        (
            {
                "type": "field_changed",
                "field": "subscriber.ordersCount",
                "operator": "greater_than",
                "value": 1,
            },
            FieldChanged(field="subscriber.ordersCount", operator="greater_than", value=1),
        ),
        ({"type": "unsubscribed"}, Unsubscribed()),
    ],
)
def test_every_stop_type(wire: dict[str, Any], stop: Any) -> None:
    sequence = structure_sequence(minimal(stop=[wire]))
    assert sequence.stop == [stop]
    assert unstructure_sequence(sequence)["stop"] == [wire]


def test_subscriber_filters_on_the_trigger() -> None:
    sequence = structure_sequence(
        minimal(
            trigger={
                "event": "ecommerce.order_placed",
                "subscriberFilters": [
                    {"path": "subscriber.tags", "operator": "contains", "value": "vip"}
                ],
            }
        )
    )
    assert sequence.trigger.subscriber_filters == [
        Filter(path="subscriber.tags", operator="contains", value="vip")
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"priority": "50"}, ["priority: expected an integer, got string '50'"]),
        ({"priority": True}, ["priority: expected an integer, got boolean True"]),
        ({"priority": 101}, ["priority: must be between 0 and 100, got 101"]),
        ({"status": "live"}, ["status: must be one of active, paused, draft"]),
        (
            {"id": "Coffee Refill"},
            ["id: must be a slug: lowercase letters, digits, '-' and '_', at most 64 characters"],
        ),
        ({"name": " "}, ["name: cannot be empty"]),
        ({"nmae": "x"}, ["nmae: unknown key"]),
        ({"steps": []}, ["steps: needs at least 1 step"]),
        ({"steps": "tag"}, ["steps: expected a list, got string 'tag'"]),
        (
            {"trigger": {"event": "ecommerce.order_place"}},
            [
                "trigger.event: unknown event 'ecommerce.order_place'; did you mean ecommerce.order_placed?"
            ],
        ),
        (
            {"trigger": {"event": "signup"}},
            ["trigger.event: unknown event 'signup'; must be one of " + ", ".join(EVENT_NAMES)],
        ),
        (
            {
                "trigger": {
                    "event": "ecommerce.order_placed",
                    "filters": [{"path": "x", "operator": "eq", "value": 1}],
                }
            },
            ["trigger.filters[0].operator: must be one of " + ", ".join(OPERATORS)],
        ),
        (
            {
                "trigger": {
                    "event": "ecommerce.order_placed",
                    "filters": [{"path": "x", "operator": "exists"}] * 11,
                }
            },
            ["trigger.filters: at most 10 filters allowed, got 11"],
        ),
        (
            {
                "trigger": {
                    "event": "ecommerce.order_placed",
                    "filters": [{"path": "a..b", "operator": "equals"}],
                }
            },
            # The value check needs a valid filter first: one problem at a time per filter.
            ["trigger.filters[0].path: invalid path 'a..b': bad segment ''"],
        ),
        (
            {
                "trigger": {
                    "event": "ecommerce.order_placed",
                    "filters": [{"path": "x", "operator": "one_of", "value": "5"}],
                }
            },
            ["trigger.filters[0].value: one_of needs a list of 1 to 50 values"],
        ),
        (
            {
                "trigger": {
                    "event": "ecommerce.order_placed",
                    "subscriberFilters": [{"path": "ordersCount", "operator": "exists"}],
                }
            },
            [
                "trigger.subscriberFilters[0].path: must be a subscriber path such as subscriber.ordersCount"
            ],
        ),
        ({"trigger": {"filters": []}}, ["trigger.event: required"]),
        (
            {"enrollment": {"mode": "matching_field"}},
            ["enrollment.fieldPath: required when mode is matching_field"],
        ),
        (
            {
                "enrollment": {
                    "mode": "matching_field",
                    "fieldPath": "lineItems[].providerProductId",
                }
            },
            ["enrollment.fieldPath: must be a path to one value, without []"],
        ),
        (
            {"enrollment": {"mode": "one_time", "fieldPath": "x"}},
            ["enrollment.fieldPath: only allowed when mode is matching_field"],
        ),
        (
            {"stop": [{"type": "tag"}]},
            ["stop[0].type: must be one of event_received, has_tag, field_changed, unsubscribed"],
        ),
        ({"stop": [{"tag": "vip"}]}, ["stop[0].type: required"]),
        ({"stop": [{"type": "has_tag"}]}, ["stop[0].tag: required"]),
        (
            {"stop": [{"type": "event_received", "event": "order"}]},
            ["stop[0].event: unknown event 'order'; must be one of " + ", ".join(EVENT_NAMES)],
        ),
        (
            {"stop": [{"type": "field_changed", "field": "subscriber.x", "value": 1}]},
            ["stop[0].value: needs an operator"],
        ),
        ({"stop": [{"type": "unsubscribed", "tag": "x"}]}, ["stop[0].tag: unknown key"]),
        (
            {"steps": [{"dealy": {"days": 1}}]},
            [
                "steps[0].dealy: unknown step type 'dealy'; must be one of delay, email, webhook, tag, branch"
            ],
        ),
        (
            {"steps": [{}]},
            ["steps[0]: must have exactly one of delay, email, webhook, tag, branch"],
        ),
        (
            {"steps": [{"delay": {"days": 1}, "tag": {"add": ["x"]}}]},
            [
                "steps[0]: must have exactly one of delay, email, webhook, tag, branch, found delay and tag"
            ],
        ),
        ({"steps": [{"tag": {"add": ["x"]}, "note": "y"}]}, ["steps[0].note: unknown key"]),
        ({"steps": [{"delay": {"days": -1}}]}, ["steps[0].delay.days: cannot be negative, got -1"]),
        (
            {"steps": [{"delay": {"hours": 1.5}}]},
            ["steps[0].delay.hours: expected an integer, got number 1.5"],
        ),
        (
            {
                "steps": [
                    {
                        "delay": {
                            "days": 1,
                            "until": {
                                "weekdays": ["mon"],
                                "start": "09:00",
                                "end": "17:00",
                                "timezone": "UTC",
                            },
                        }
                    }
                ]
            },
            ["steps[0].delay.days: cannot be combined with until"],
        ),
        (
            {
                "steps": [
                    {
                        "delay": {
                            "until": {
                                "weekdays": ["mon", "mon", "xyz"],
                                "start": "9:00",
                                "end": "17:00",
                                "timezone": "Mars/Base",
                            }
                        }
                    }
                ]
            },
            [
                "steps[0].delay.until.weekdays[2]: must be one of mon, tue, wed, thu, fri, sat, sun",
                "steps[0].delay.until.start: must be a time HH:MM (00:00 to 24:00)",
                "steps[0].delay.until.timezone: unknown timezone 'Mars/Base' (use an IANA name such as Europe/Paris)",
            ],
        ),
        (
            {
                "steps": [
                    {
                        "delay": {
                            "until": {
                                "weekdays": [],
                                "start": "18:00",
                                "end": "09:00",
                                "timezone": "UTC",
                            }
                        }
                    }
                ]
            },
            [
                "steps[0].delay.until.weekdays: needs at least one weekday",
                "steps[0].delay.until.end: must be after start (windows cannot span midnight)",
            ],
        ),
        (
            {"steps": [{"email": {"subject": "Hi {{ name", "body": "{% if x %}"}}]},
            [
                "steps[0].email.subject: template syntax error: unexpected end of template, expected 'end of print statement' (template line 1)",
                "steps[0].email.body: template syntax error: Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if' (template line 1)",
            ],
        ),
        (
            {"steps": [{"email": {"subject": "{{ x|nosuch }}", "body": ""}}]},
            [
                "steps[0].email.subject: template syntax error: No filter named 'nosuch' (template line 1)"
            ],
        ),
        ({"steps": [{"email": {"subject": "Hi"}}]}, ["steps[0].email.body: required"]),
        (
            {"steps": [{"webhook": {"url": "ftp://x"}}]},
            ["steps[0].webhook.url: must be an http:// or https:// URL"],
        ),
        (
            {"steps": [{"tag": {"add": []}}]},
            ["steps[0].tag: needs at least one tag to add or remove"],
        ),
        ({"steps": [{"tag": {"add": [""]}}]}, ["steps[0].tag.add[0]: cannot be empty"]),
        (
            {"steps": [{"branch": {"if": [], "then": []}}]},
            ["steps[0].branch.if: needs at least 1 filter"],
        ),
        (
            {
                "steps": [
                    {
                        "branch": {
                            "if": [{"path": "x", "operator": "exists"}],
                            "then": [{"webhook": {}}],
                        }
                    }
                ]
            },
            ["steps[0].branch.then[0].webhook.url: required"],
        ),
    ],
)
def test_invalid_data_gives_one_message_per_problem(
    changes: dict[str, Any], expected: list[str]
) -> None:
    assert problems(minimal(**changes)) == expected


def test_all_problems_are_reported_at_once() -> None:
    data = minimal(
        priority="high",
        trigger={"event": "nope", "filtres": []},
        steps=[{"delay": {"days": "1"}}, {"email": {"subject": 1, "body": "x"}}],
    )
    assert problems(data) == [
        "priority: expected an integer, got string 'high'",
        "trigger.event: unknown event 'nope'; must be one of " + ", ".join(EVENT_NAMES),
        "trigger.filtres: unknown key",
        "steps[0].delay.days: expected an integer, got string '1'",
        "steps[1].email.subject: expected a string, got integer 1",
    ]


def test_eleven_invalid_filters_report_the_count_and_each_filter() -> None:
    filters = [{"path": "x", "operator": "exists"}] * 10 + [{"path": "x", "operator": "like"}]
    assert problems(minimal(trigger={"event": "ecommerce.order_placed", "filters": filters})) == [
        "trigger.filters: at most 10 filters allowed, got 11",
        "trigger.filters[10].operator: must be one of " + ", ".join(OPERATORS),
    ]


def test_non_mapping_input() -> None:
    assert problems(["not", "a", "mapping"]) == [
        "expected a mapping, got list ['not', 'a', 'mapping']"
    ]


def test_issue_paths() -> None:
    issue = Issue(("trigger", "filters", 0, "operator"), "bad")
    assert issue.location == "trigger.filters[0].operator"
    assert issue.json_path == "$.trigger.filters[0].operator"
    assert Issue((), "bad").json_path == "$"
    assert str(Issue((), "bad")) == "bad"


# --- hypothesis: any valid sequence survives a round trip exactly ----------------------

keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
plain_paths = st.lists(keys, min_size=1, max_size=3).map(".".join)
array_paths = st.lists(st.tuples(keys, st.booleans()), min_size=1, max_size=3).map(
    lambda parts: ".".join(key + ("[]" if array else "") for key, array in parts)
)
subscriber_paths = keys.map(lambda key: f"subscriber.{key}")
text = st.text(
    alphabet=st.characters(exclude_characters="{}%#", exclude_categories=("Cs",)), max_size=12
)
words = text.filter(lambda value: value.strip() != "")
numbers = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False))
scalars = st.one_of(text, numbers, st.booleans())


def filter_values(operator: str) -> st.SearchStrategy[Any]:
    if operator in ("exists", "not_exists"):
        return st.none()
    if operator == "one_of":
        return st.lists(scalars, min_size=1, max_size=50)
    if operator in ("greater_than", "less_than"):
        return st.one_of(numbers, st.integers(0, 999).map(str))
    if operator == "contains":
        return st.one_of(text, numbers)
    return scalars


def filters_on(path_strategy: st.SearchStrategy[str]) -> st.SearchStrategy[Filter]:
    return st.tuples(path_strategy, st.sampled_from(OPERATORS)).flatmap(
        lambda pair: filter_values(pair[1]).map(
            lambda value: Filter(path=pair[0], operator=pair[1], value=value)
        )
    )


event_filters = filters_on(st.one_of(array_paths, subscriber_paths))
event_names = st.sampled_from(EVENT_NAMES)
clock = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}")


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start, end = sorted(draw(st.lists(clock, min_size=2, max_size=2, unique=True)))
    return Window(
        weekdays=draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True)),
        start=start,
        end=draw(st.sampled_from([end, "24:00"])),
        timezone=draw(st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])),
    )


@st.composite
def tags(draw: st.DrawFn) -> Tag:
    add = draw(st.lists(words, max_size=3))
    remove = draw(st.lists(words, min_size=0 if add else 1, max_size=3))
    return Tag(add=add, remove=remove)


small = st.integers(0, 1000)
leaf_steps = st.one_of(
    st.builds(Delay, days=small, hours=small, minutes=small, seconds=small),
    st.builds(DelayUntil, until=windows()),
    st.builds(
        Email,
        subject=words,
        body=text,
        from_=st.one_of(
            st.none(), st.sampled_from(["shop@example.com", "Shop <shop@example.com>"])
        ),
    ),
    st.builds(Webhook, url=keys.map(lambda host: f"https://{host}.example.com/hook")),
    tags(),
)
steps = st.recursive(
    leaf_steps,
    lambda children: st.builds(
        Branch,
        if_=st.lists(event_filters, min_size=1, max_size=3),
        then=st.lists(children, max_size=3),
        else_=st.lists(children, max_size=3),
    ),
    max_leaves=6,
)
enrollments = st.one_of(
    st.none(),
    st.builds(Enrollment, mode=st.sampled_from(["unlimited", "one_time"])),
    st.builds(Enrollment, mode=st.just("matching_field"), field_path=plain_paths),
)
stops = st.one_of(
    st.builds(
        EventReceived,
        event=event_names,
        filters=st.lists(event_filters, max_size=3),
        match=st.lists(
            st.builds(MatchRule, entry_path=array_paths, event_path=array_paths), max_size=3
        ),
        entry_filters=st.lists(event_filters, max_size=2),
    ),
    st.builds(HasTag, tag=words),
    st.builds(FieldChanged, field=subscriber_paths),
    subscriber_paths.flatmap(
        lambda path: st.sampled_from(OPERATORS).flatmap(
            lambda operator: filter_values(operator).map(
                lambda value: FieldChanged(field=path, operator=operator, value=value)
            )
        )
    ),
    st.just(Unsubscribed()),
)
sequences = st.builds(
    Sequence,
    id=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True),
    name=words,
    status=st.sampled_from(["active", "paused", "draft"]),
    priority=st.integers(0, 100),
    trigger=st.builds(
        Trigger,
        event=event_names,
        filters=st.lists(event_filters, max_size=10),
        subscriber_filters=st.lists(filters_on(subscriber_paths), max_size=3),
    ),
    enrollment=enrollments,
    stop=st.one_of(st.none(), st.lists(stops, max_size=4)),
    steps=st.lists(steps, min_size=1, max_size=4),
)


@settings(max_examples=150, deadline=None)
@given(sequences)
def test_round_trip_is_exact(sequence: Sequence) -> None:
    data = unstructure_sequence(sequence)
    assert structure_sequence(data) == sequence
    assert json.loads(json.dumps(data)) == data  # plain JSON, as the API returns it
    assert unstructure_sequence(structure_sequence(data)) == data
