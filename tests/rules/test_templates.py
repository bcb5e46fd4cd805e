"""Templates: sandboxed, forgiving about missing data, strict about syntax."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storeflow.rules.templates import RenderError, check_template, render

EVENT = {
    "city": "Lyon",
    "empty": None,
    "totalCents": 4780,
    "items": ["not dict.items"],
    "product": {"title": "Colombian coffee", "url": "https://shop.example.com/p/501"},
    "lineItems": [{"title": "Coffee"}, {"title": "Filter <papers>"}],
}
SUBSCRIBER = {"firstName": "Ada", "totalSpent": 47.8, "tags": ["vip"]}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ subscriber.firstName }}", "Hi Ada"),
        ("{{ product.title }}", "Colombian coffee"),  # product defaults to event.product
        ("{{ event.product.title }}", "Colombian coffee"),
        ("{{ event.city|default('your area') }}", "Lyon"),
        ("{{ event.region|default('your area') }}", "your area"),
        ("{{ event.empty|default('n/a') }}", "n/a"),  # null counts as missing
        ("[{{ event.missing }}]", "[]"),
        ("[{{ event.missing.deeper[0].still }}]", "[]"),
        ("[{{ event.empty }}]", "[]"),
        ("[{{ event.missing / 100 }}]", "[]"),
        ("[{{ event.missing + 1 }}]", "[]"),
        ("{% if event.missing > 3 %}big{% else %}small{% endif %}", "small"),
        ("{{ event.totalCents / 100 }}", "47.8"),
        ("{{ event.items[0] }}", "not dict.items"),  # keys win over dict methods
        (
            "{% for item in event.lineItems %}{{ item.title }};{% endfor %}",
            "Coffee;Filter <papers>;",
        ),
        ("{% for item in event.missing %}x{% endfor %}done", "done"),
        ("{{ subscriber.totalSpent }}", "47.8"),
        ("{{ event.missing|upper }}|{{ event.missing|length }}|{{ event.missing|int }}", "|0|0"),
    ],
)
def test_render(source: str, expected: str) -> None:
    assert render(source, event=EVENT, subscriber=SUBSCRIBER) == expected


def test_an_explicit_product_wins() -> None:
    assert render("{{ product.title }}", event=EVENT, product={"title": "Tea"}) == "Tea"
    assert render("[{{ product.title }}]", event={"product": "not a mapping"}) == "[]"


def test_html_rendering_escapes_values() -> None:
    source = "{% for item in event.lineItems %}<li>{{ item.title }}</li>{% endfor %}"
    assert render(source, event=EVENT, html=True) == "<li>Coffee</li><li>Filter &lt;papers&gt;</li>"
    assert render("{{ event.missing }}", event=EVENT, html=True) == ""


def test_the_sandbox_keeps_python_out_of_reach() -> None:
    assert render("{{ event.__class__ }}", event=EVENT) == ""
    assert render("{{ ''.__class__.__mro__[1].__subclasses__() }}", event=EVENT) == ""
    with pytest.raises(RenderError, match="Range too big"):
        render("{{ range(10**7)|length }}", event=EVENT)


@pytest.mark.parametrize(
    "source",
    [
        "[{{ event.totalCents / 0 }}]",
        "[{{ event.totalCents|first }}]",
        "[{{ event.city * event.city }}]",
        "[{{ -event.city }}]",
        "[{{ event.totalCents|join(',') }}]",
    ],
)
def test_data_of_the_wrong_shape_renders_blank(source: str) -> None:
    assert render(source, event=EVENT) == "[]"


@pytest.mark.parametrize("source", ["{% if event.city > 1 %}x{% endif %}", "{{ event.city() }}"])
def test_what_cannot_be_rendered_raises_render_error(source: str) -> None:
    with pytest.raises(RenderError, match="template failed: TypeError"):
        render(source, event=EVENT)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hi {{ subscriber.firstName }}", None),
        (
            "Hi {{ name",
            "template syntax error: unexpected end of template, expected 'end of print statement' (template line 1)",
        ),
        (
            "line one\n{% endif %}",
            "template syntax error: Encountered unknown tag 'endif' (template line 2)",
        ),
        ("{{ x|nosuch }}", "template syntax error: No filter named 'nosuch' (template line 1)"),
    ],
)
def test_check_template(source: str, message: str | None) -> None:
    assert check_template(source) == message


def test_render_reports_syntax_errors() -> None:
    with pytest.raises(RenderError, match="template syntax error"):
        render("{{ x", event={})


# --- hypothesis: missing data never breaks a render ------------------------------------

names = st.sampled_from(["city", "title", "product", "items", "lineItems", "x", "firstName", "0"])
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(names, children, max_size=3)
    ),
    max_leaves=10,
)
properties = st.dictionaries(names, json_values, max_size=5)
references = st.builds(
    lambda root, chain, tail: "{{ " + root + "".join("." + name for name in chain) + tail + " }}",
    st.sampled_from(["event", "subscriber", "product"]),
    st.lists(names.filter(lambda n: not n.isdigit()), min_size=1, max_size=3),
    st.sampled_from(
        ["", "|default('x')", "|upper", "|lower", "|length", "|first", "|join(',')", " ~ '!'"]
    ),
)
templates = st.lists(
    st.one_of(references, st.text(alphabet="abc ,.!", max_size=5)), max_size=5
).map("".join)


@settings(max_examples=300)
@given(templates, properties, properties, st.booleans())
def test_missing_or_odd_data_never_crashes(
    source: str, event: dict[str, Any], subscriber: dict[str, Any], html: bool
) -> None:
    assert check_template(source) is None
    assert isinstance(render(source, event=event, subscriber=subscriber, html=html), str)


@settings(max_examples=100)
@given(
    st.lists(names.filter(lambda n: not n.isdigit()), min_size=1, max_size=4), st.text(max_size=8)
)
def test_default_renders_the_fallback_for_anything_missing(chain: list[str], fallback: str) -> None:
    source = "{{ event." + ".".join(chain) + "|default(fallback) }}"
    rendered = render(source.replace("fallback", repr(fallback)), event={})
    assert rendered == fallback


# --- money ---------------------------------------------------------------------------------

ORDER_EVENT = {
    "totalCents": 4780,
    "refundedCents": 0,
    "currency": "EUR",
    "lineItems": [{"title": "Coffee", "priceCents": 1250, "totalCents": 2500}],
}


@pytest.mark.parametrize(
    ("source", "event", "expected"),
    [
        ("{{ order.total|money }}", ORDER_EVENT, "47.80 EUR"),
        ("{{ order.total }}", ORDER_EVENT, "47.80 EUR"),
        ("{{ order.lineItems[0].price|money }}", ORDER_EVENT, "12.50 EUR"),
        ("{{ event.totalCents|money(event.currency) }}", ORDER_EVENT, "47.80 EUR"),
        ("{{ order.total|money }}", {"totalCents": 1250, "currency": "kwd"}, "1.250 KWD"),
        ("{{ order.total|money }}", {"totalCents": 18000, "currency": "CLP"}, "18000 CLP"),
        ("[{{ order.total|money }}]", {"totalCents": 4780}, "[]"),  # no currency: no money
        ("[{{ event.totalCents|money }}]", ORDER_EVENT, "[]"),  # cents need a currency
        ("[{{ event.missing|money('EUR') }}]", ORDER_EVENT, "[]"),
    ],
)
def test_money_renders_in_the_currency_s_own_decimals(
    source: str, event: dict[str, Any], expected: str
) -> None:
    assert render(source, event=event) == expected


CURRENCIES = ["EUR", "USD", "JPY", "KWD", "CLF", "CLP", "BHD"]


@given(st.integers(-(10**15), 10**15), st.sampled_from(CURRENCIES))
def test_money_round_trips_through_the_money_type(minor: int, currency: str) -> None:
    from storeflow.core.commerce import money

    rendered = render("{{ order.total|money }}", event={"totalCents": minor, "currency": currency})
    amount, code = rendered.split(" ")
    assert money.parse(amount, code) == money.Money(minor, currency)
