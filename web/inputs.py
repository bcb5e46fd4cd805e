"""JSON bodies of the connection routes, validated with one cattrs converter.

camelCase on the wire, snake_case in Python. Unknown keys are ignored (plugins add
fields over time). Strings are strings (no ``1`` -> ``"1"`` coercion), integers are
integers (not booleans), and string lengths are capped through field metadata
(``max``). Every mismatch is a 422 ``validation_failed`` whose ``details`` list
``{path, message}``; a body that is not JSON is a 400, a wrong content type a 415.

:func:`parse_json` (``storeflow.core.jsonparse``, re-exported here) is the one
decoder of request bodies (admin API, plugin traffic, connect): strict UTF-8, no
``NaN``/``Infinity``, and at most :data:`MAX_JSON_DEPTH` levels of nesting. Deeper documents are refused with a 400 before any other code
sees them: cattrs, the JSON columns and ``jsonify`` all recurse, and a document a
thousand levels deep would otherwise surface as a ``RecursionError`` (a 500) in
whichever of them meets it first.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override
from flask import request

from storeflow.core.errors import UnsupportedMediaType, ValidationFailed
from storeflow.core.jsonparse import MAX_JSON_DEPTH as MAX_JSON_DEPTH  # re-exported
from storeflow.core.jsonparse import parse_json as parse_json  # re-exported
from storeflow.web.apischema import Keywords, wire_name

T = TypeVar("T")
MAX_DETAILS = 20
MAX_INT = 2**53

# What the converter's integer hook accepts (see _strict_int), for the OpenAPI document.
Count = Annotated[int, Keywords(minimum=0, maximum=MAX_INT)]


def _max(limit: int) -> dict[str, int]:
    return {"max": limit}


# --- bodies -----------------------------------------------------------------------------


@attrs.frozen
class ConnectBody:
    store_url: str = attrs.field(metadata=_max(500))
    site_name: str = attrs.field(default="", metadata=_max(200))
    plugin_version: str | None = attrs.field(default=None, metadata=_max(40))
    wp_version: str | None = attrs.field(default=None, metadata=_max(40))
    wc_version: str | None = attrs.field(default=None, metadata=_max(40))
    currency: str = attrs.field(default="USD", metadata=_max(3))
    timezone: str = attrs.field(default="UTC", metadata=_max(64))


@attrs.frozen
class PollBody:
    connect_request_id: str = attrs.field(metadata=_max(100))
    poll_token: str = attrs.field(metadata=_max(200))


@attrs.frozen
class QueueStats:
    pending: Count = 0
    failed: Count = 0


@attrs.frozen
class HeartbeatBody:
    plugin_version: str | None = attrs.field(default=None, metadata=_max(40))
    wp_version: str | None = attrs.field(default=None, metadata=_max(40))
    wc_version: str | None = attrs.field(default=None, metadata=_max(40))
    store_url: str | None = attrs.field(default=None, metadata=_max(500))
    queue: QueueStats | None = None
    last_error: str | None = attrs.field(default=None, metadata=_max(10_000))


@attrs.frozen
class AckBody:
    status: Literal["started", "completed", "failed"]
    detail: str | None = attrs.field(default=None, metadata=_max(10_000))


@attrs.frozen
class ReasonBody:
    reason: str | None = attrs.field(default=None, metadata=_max(1000))


@attrs.frozen
class SyncBody:
    resources: list[Literal["products", "customers", "orders"]] | None = None


@attrs.frozen(kw_only=True)
class SyncBatchBody:
    """One page of a store sync.

    ``storeflow.core.commerce.sync.parse_batch`` validates it (with its own messages);
    this class describes it for the OpenAPI document, and a test checks the two agree.
    """

    sync_run_id: str | int = attrs.field(
        metadata={
            "schema": {"minLength": 1, "maxLength": 100, "pattern": r"\S"},
            "doc": "the sync command's id, or any id naming the run",
        }
    )
    page: int = attrs.field(default=0, metadata={"schema": {"minimum": 0, "maximum": 2**31 - 1}})
    is_last: bool = False
    items: list[dict[str, Any]] = attrs.field(
        metadata={"schema": {"maxItems": 500}, "doc": "WooCommerce REST v3 objects"}
    )
    resources: list[Literal["products", "customers", "orders"]] | None = attrs.field(
        default=None,
        metadata={
            "schema": {"minItems": 1},
            "doc": "the run's resources, when syncRunId is not a sync command's id",
        },
    )


# --- the converter ----------------------------------------------------------------------


class _Invalid(ValueError):
    pass


def _strict_str(value: Any, _: Any = None) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_describe(value)}")
    return value


def _strict_int(value: Any, _: Any = None) -> int:
    if type(value) is not int:
        raise _Invalid(f"expected an integer, got {_describe(value)}")
    if value < 0 or value > MAX_INT:
        raise _Invalid("expected a non-negative integer below 2^53")
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "an array" if isinstance(value, list) else "an object"
    )


def _object_factory(cls: type, converter: cattrs.Converter) -> Any:
    renames = {a.name: override(rename=wire_name(a.name)) for a in attrs.fields(cls)}
    # mypy also matches ``**renames`` against cattrs' own ``_cattrs_*`` flags.
    inner: Any = make_dict_structure_fn(cls, converter, **renames)  # type: ignore[arg-type]

    def structure(value: Any, _: Any = None) -> Any:
        if not isinstance(value, dict):
            raise _Invalid(f"expected an object, got {_describe(value)}")
        return inner(value, cls)

    return structure


def _list_factory(type_: Any, converter: cattrs.Converter) -> Any:
    (element,) = type_.__args__
    handler = converter.get_structure_hook(element)

    def structure(value: Any, _: Any = None) -> list[Any]:
        if not isinstance(value, list):
            raise _Invalid(f"expected an array, got {_describe(value)}")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(handler(item, element))
            except _Invalid as exc:
                raise _Invalid(f"item {index}: {exc}") from None
        return items

    return structure


def _literal_factory(type_: Any, converter: cattrs.Converter) -> Any:
    allowed = type_.__args__

    def structure(value: Any, _: Any = None) -> Any:
        if isinstance(value, str) and value in allowed:
            return value
        raise _Invalid("must be one of " + ", ".join(map(str, allowed)))

    return structure


converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=True)
converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook_factory(attrs.has, _object_factory)


def _is_list(type_: object) -> bool:
    return get_origin(type_) is list


def _is_literal(type_: object) -> bool:
    return get_origin(type_) is Literal


converter.register_structure_hook_factory(_is_list, _list_factory)
converter.register_structure_hook_factory(_is_literal, _literal_factory)

_PATH_PART = re.compile(r"\.([a-z0-9]+(?:_[a-z0-9]+)+)")


def _camel_path(path: str) -> str:
    """cattrs reports attribute names (``$.store_url``); the wire has ``$.storeUrl``."""
    return _PATH_PART.sub(lambda m: "." + wire_name(m.group(1)), path)


def _details(exc: BaseException) -> list[dict[str, str]]:
    details = []
    for line in cattrs.transform_error(exc, path="$", format_exception=_format):
        message, _, path = line.rpartition(" @ ")
        details.append({"path": _camel_path(path or "$"), "message": message or line})
    return details


def _format(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, _Invalid):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required"
    return cattrs.v.format_exception(exc, type_)


def _lengths(obj: Any, path: str = "$") -> list[dict[str, str]]:
    problems = []
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        where = f"{path}.{wire_name(field.name)}"
        limit = field.metadata.get("max")
        if isinstance(value, str) and limit is not None and len(value) > limit:
            problems.append({"path": where, "message": f"longer than {limit} characters"})
        elif attrs.has(type(value)):
            problems.extend(_lengths(value, where))
    return problems


def structure(data: Any, cls: type[T]) -> T:
    """Validate decoded JSON into ``cls`` or raise 422 with every problem found."""
    try:
        obj = converter.structure(data, cls)
    except Exception as exc:  # every cattrs or hook failure is bad input, never a 500
        _reject(_details(exc) or [{"path": "$", "message": str(exc)}])
    problems = _lengths(obj)
    if problems:
        _reject(problems)
    return obj


def _reject(details: list[dict[str, str]]) -> None:
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    raise ValidationFailed(
        f"the request body is not valid: {first['path']}: {first['message']}{more}",
        details=details[:MAX_DETAILS],
    )


# --- reading the request ------------------------------------------------------------------


def json_body(*, optional: bool = False) -> Any:
    """The decoded JSON body; ``{}`` for an empty body when ``optional``."""
    raw = request.get_data(cache=True)
    if optional and not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            "send Content-Type: application/json", code="unsupported_media_type"
        )
    return parse_json(raw)
