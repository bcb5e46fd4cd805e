"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) from the attrs classes of the HTTP API.

The classes that validate request bodies (``storeflow.web.inputs``, the rule-file
schema) and shape responses (``storeflow.web.responses``) are the single source: a
:class:`Registry` turns their field types into schemas and collects every class it
meets under ``#/components/schemas``, so the OpenAPI document cannot describe a
field the code does not have.

Field names go on the wire in camelCase (:func:`wire_name`). What the generator
reads from a class:

- the field types: ``str``, ``int``, ``float``, ``bool``, ``datetime``, ``Any``,
  ``X | None``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``, ``Literal[...]``,
  nested attrs classes, and ``Annotated[X, Keywords(...)]`` for extra keywords;
- ``required``: for a request class, the fields without a default; for a class marked
  :func:`output` (a response), every field except those whose metadata says
  ``omit_none`` (left out of the answer when ``None``);
- field metadata: ``max`` (string length limit, as ``web/inputs.py`` enforces it),
  ``schema`` (extra keywords), ``documented_as`` (a dict passed through unchanged,
  described by the schema of another type), ``doc`` (a description).

Keywords for classes this package does not own (the rule-file schema validates with
hook functions, not metadata) are given to the registry as ``refine``.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping
from collections.abc import Sequence as AbcSequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import attrs

Schema = dict[str, Any]
REF = "#/components/schemas/"

_OUTPUT: set[type] = set()


class Keywords:
    """JSON Schema keywords attached to a type: ``Annotated[str, Keywords(format="date-time")]``.

    Compared by identity, so that ``Annotated`` types holding one stay hashable.
    """

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __repr__(self) -> str:
        return f"Keywords({self.keywords!r})"


def one_of(*values: str) -> Keywords:
    """``Annotated[str, one_of("a", "b")]``: a string documented as an enum.

    For values read back from storage, where a ``Literal`` would only be a promise.
    """
    return Keywords(type="string", enum=list(values))


def output(cls: type) -> type:
    """Mark an attrs class as a response shape: its fields are always present."""
    _OUTPUT.add(cls)
    return cls


def is_output(cls: type) -> bool:
    return cls in _OUTPUT


def wire_name(attribute: str) -> str:
    """``store_url`` -> ``storeUrl``; ``from_`` -> ``from`` (a Python keyword on the wire)."""
    head, *rest = attribute.rstrip("_").split("_")
    return head + "".join(word.capitalize() for word in rest)


def without_none(tp: Any) -> Any:
    """``X | None`` -> ``X``; other types unchanged."""
    if _is_union(tp):
        rest = [arg for arg in get_args(tp) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
        return Union[tuple(rest)]  # noqa: UP007 - built from a runtime tuple
    return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _description(obj: Any) -> str | None:
    # Only the class's own docstring: inspect.getdoc would fall back to a base class's.
    doc = inspect.cleandoc(obj.__doc__) if obj.__doc__ else None
    # The first paragraph, with reST literals (``x``) as Markdown ones.
    return doc.split("\n\n", 1)[0].replace("\n", " ").replace("``", "`") if doc else None


def nullable(schema: Schema) -> Schema:
    kind = schema.get("type")
    if isinstance(kind, str) and not {"enum", "const", "$ref"} & schema.keys():
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


@attrs.define
class Registry:
    """Builds schemas and remembers the named ones (``components``) they refer to.

    ``named`` maps types that are not attrs classes (unions, wrappers) to a component
    name and a builder; ``refine`` adds keywords to ``(class, field name)``;
    ``closed`` says which classes reject unknown keys (``additionalProperties: false``).
    """

    named: Mapping[Any, tuple[str, Callable[[Registry], Schema]]] = attrs.Factory(dict)
    refine: Mapping[tuple[type, str], Schema] = attrs.Factory(dict)
    closed: Callable[[type], bool] = lambda cls: False
    rename: Mapping[type, str] = attrs.Factory(dict)
    components: dict[str, Schema] = attrs.Factory(dict)
    _owners: dict[str, Any] = attrs.Factory(dict)

    def ref(self, name: str) -> Schema:
        return {"$ref": REF + name}

    def schema(self, tp: Any) -> Schema:
        """The schema of a type annotation (a ``$ref`` for classes and named types)."""
        if tp in self.named:
            name, build = self.named[tp]
            return self._component(name, tp, lambda: build(self))
        if attrs.has(tp):
            return self._component(self.rename.get(tp, tp.__name__), tp, lambda: self.object(tp))
        origin, args = get_origin(tp), get_args(tp)
        if origin is Annotated:
            base = self.schema(args[0])
            extra = {
                k: v
                for meta in args[1:]
                if isinstance(meta, Keywords)
                for k, v in meta.keywords.items()
            }
            return {**base, **extra}
        if _is_union(tp):
            return self._union(args)
        if origin is Literal:
            return _literal(args)
        if origin in (list, tuple, set, frozenset, AbcSequence):
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                return {"type": "array", "prefixItems": [self.schema(a) for a in args]}
            return {"type": "array", "items": self.schema(args[0])} if args else {"type": "array"}
        if origin in (dict, Mapping):
            values = args[1] if len(args) == 2 else Any
            schema: Schema = {"type": "object"}
            if values is not Any:
                schema["additionalProperties"] = self.schema(values)
            return schema
        return _scalar(tp)

    def object(self, cls: type) -> Schema:
        """The schema of an attrs class, with camelCase property names."""
        hints = get_type_hints(cls, include_extras=True)
        response = is_output(cls)
        properties: Schema = {}
        required: list[str] = []
        for field in attrs.fields(cls):
            name = wire_name(field.name)
            tp = field.metadata.get("documented_as", hints.get(field.name, Any))
            omitted = response and field.metadata.get("omit_none", False)
            if omitted:
                tp = without_none(tp)
            # 2020-12 allows keywords beside $ref: they stay on the property, not the component.
            properties[name] = {**self.schema(tp), **self._keywords(cls, field)}
            if (response and not omitted) or (not response and field.default is attrs.NOTHING):
                required.append(name)
        schema: Schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if self.closed(cls):
            schema["additionalProperties"] = False
        description = _description(cls)
        if description:
            schema["description"] = description
        return schema

    def _keywords(self, cls: type, field: attrs.Attribute) -> Schema:
        extra: Schema = {}
        limit = field.metadata.get("max")
        if limit is not None:
            extra["maxLength"] = limit
        extra.update(field.metadata.get("schema", {}))
        extra.update(self.refine.get((cls, field.name), {}))
        if field.metadata.get("doc"):
            extra["description"] = field.metadata["doc"]
        return extra

    def _component(self, name: str, owner: Any, build: Callable[[], Schema]) -> Schema:
        known = self._owners.get(name)
        if known is not None and known is not owner:
            raise ValueError(f"two types want the schema name {name!r}: {known!r} and {owner!r}")
        if known is None:
            self._owners[name] = owner
            self.components[name] = {}  # placeholder: recursive types refer to themselves
            self.components[name] = build()
        return self.ref(name)

    def _union(self, args: tuple[Any, ...]) -> Schema:
        members = [a for a in args if a is not type(None)]
        optional = len(members) != len(args)
        if len(members) == 1:
            schema = self.schema(members[0])
        else:
            schema = {"anyOf": [self.schema(m) for m in members]}
        return nullable(schema) if optional else schema


def _literal(values: tuple[Any, ...]) -> Schema:
    kinds = {type(v) for v in values}
    schema: Schema = {"const": values[0]} if len(values) == 1 else {"enum": list(values)}
    if kinds == {str}:
        schema["type"] = "string"
    elif kinds == {bool}:
        schema["type"] = "boolean"
    elif kinds == {int}:
        schema["type"] = "integer"
    return schema


def _scalar(tp: Any) -> Schema:
    if tp is Any or tp is object:
        return {}
    if tp is type(None) or tp is None:
        return {"type": "null"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp in (float, Decimal):
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is datetime:
        return {"type": "string", "format": "date-time"}
    if tp is date:
        return {"type": "string", "format": "date"}
    if tp in (dict, Mapping):
        return {"type": "object"}
    if tp is list:
        return {"type": "array"}
    raise TypeError(f"no JSON Schema for {tp!r}")
