"""attrs classes to JSON Schema: the rules the OpenAPI document is built with."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import attrs
import pytest

from storeflow.web.apischema import Keywords, Registry, one_of, output, wire_name


@attrs.frozen
class Address:
    """Where to send things.

    Second paragraph, not part of the description.
    """

    street: str
    zip_code: str | None = attrs.field(default=None, metadata={"max": 10})


@attrs.frozen
class Order:
    order_id: str = attrs.field(metadata={"max": 100})
    placed_at: datetime
    tags: list[str]
    address: Address
    previous: Address | None = None
    status: Literal["placed", "cancelled"] = "placed"
    quantity: Annotated[int, Keywords(minimum=1)] = 1
    extra: dict[str, Any] = attrs.Factory(dict)
    counts: dict[str, int] = attrs.Factory(dict)
    from_: str = attrs.field(default="", metadata={"doc": "sender", "schema": {"format": "email"}})
    paid: bool = False
    total: float = 0.0


@output
@attrs.frozen(kw_only=True)
class Answer:
    success: Literal[True] = True
    order: Order
    note: str | None
    token: str | None = attrs.field(default=None, metadata={"omit_none": True})
    state: Annotated[str, one_of("a", "b")]
    raw: dict[str, Any] = attrs.field(metadata={"documented_as": Address})


def test_a_request_class_becomes_an_object_with_camel_case_names():
    registry = Registry()
    assert registry.schema(Order) == {"$ref": "#/components/schemas/Order"}
    order = registry.components["Order"]
    assert order["required"] == ["orderId", "placedAt", "tags", "address"]
    props = order["properties"]
    assert props["orderId"] == {"type": "string", "maxLength": 100}
    assert props["placedAt"] == {"type": "string", "format": "date-time"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["address"] == {"$ref": "#/components/schemas/Address"}
    assert props["previous"] == {
        "anyOf": [{"$ref": "#/components/schemas/Address"}, {"type": "null"}]
    }
    assert props["status"] == {"enum": ["placed", "cancelled"], "type": "string"}
    assert props["quantity"] == {"type": "integer", "minimum": 1}
    assert props["extra"] == {"type": "object"}
    assert props["counts"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["from"] == {"type": "string", "format": "email", "description": "sender"}
    assert props["paid"] == {"type": "boolean"} and props["total"] == {"type": "number"}
    assert "additionalProperties" not in order


def test_nested_classes_are_components_with_their_docstring():
    registry = Registry()
    registry.schema(Order)
    address = registry.components["Address"]
    assert address["description"] == "Where to send things."
    assert address["required"] == ["street"]
    assert address["properties"]["zipCode"] == {"type": ["string", "null"], "maxLength": 10}


def test_a_response_class_has_every_field_required_except_omitted_ones():
    registry = Registry()
    registry.schema(Answer)
    answer = registry.components["Answer"]
    assert answer["required"] == ["success", "order", "note", "state", "raw"]
    assert answer["properties"]["success"] == {"const": True, "type": "boolean"}
    assert answer["properties"]["note"] == {"type": ["string", "null"]}
    assert answer["properties"]["token"] == {"type": "string"}  # absent, never null
    assert answer["properties"]["state"] == {"type": "string", "enum": ["a", "b"]}
    assert answer["properties"]["raw"] == {"$ref": "#/components/schemas/Address"}


def test_closed_classes_and_refinements():
    registry = Registry(
        closed=lambda cls: cls is Address,
        refine={(Address, "street"): {"minLength": 1}},
        rename={Address: "PostalAddress"},
    )
    assert registry.schema(Address) == {"$ref": "#/components/schemas/PostalAddress"}
    address = registry.components["PostalAddress"]
    assert address["additionalProperties"] is False
    assert address["properties"]["street"] == {"type": "string", "minLength": 1}


def test_two_classes_cannot_share_a_name():
    @attrs.frozen
    class Address:  # another class of the same name
        line: str

    registry = Registry()
    registry.schema(Order)
    with pytest.raises(ValueError, match="Address"):
        registry.schema(Address)


def test_wire_names():
    assert wire_name("store_url") == "storeUrl"
    assert wire_name("from_") == "from"
    assert wire_name("if_") == "if"
    assert wire_name("id") == "id"
