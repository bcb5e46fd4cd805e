"""The sequence schema (rule files and ``/api/sequences``): its converter, and the names to import.

The wire format is the one in ``spec/api.md`` "Sequence schema": camelCase keys, a
step is a mapping with exactly one of ``delay``, ``email``, ``webhook``, ``tag``,
``branch``, a stop condition is a mapping with a ``type``. The classes
(``storeflow.rules.model``) carry no conversion rules; the one converter below does,
for both YAML rule files and the JSON API, so both reject the same mistakes with the
same messages:

- unknown keys are errors (``fitlers:`` is a typo, not an extension);
- types are strict: ``priority: "50"`` is an error, not a silent conversion
  (the value checks are ``storeflow.rules.validation``);
- every problem is reported at once, each with its path (``trigger.filters[0].operator``),
  through :class:`SchemaError` (its ``issues``, ``storeflow.rules.issues``), never only
  the first one.

Extensions to the api.md example, all optional:

- ``trigger.subscriberFilters``: filters on ``subscriber.*`` paths, kept apart from the
  event filters so a runner can decide on the event before loading the profile;
- ``stop[].entryFilters`` on ``event_received``: filters on the *enrolling* event's
  properties, deciding whether this stop applies to a run (used by the replenishment
  default to pick product- or variant-level matching);
- ``delay: {until: {weekdays, start, end, timezone}}``: wait for a sending window;
- ``{type: unsubscribed}`` may be written but changes nothing: unsubscribing (or being
  suppressed) always stops a run;
- ``stopOnRepurchase`` (``ecommerce.replenishment_due`` triggers only): ``false`` turns
  off the default stop on a repurchase of the product, ``true`` keeps it besides an
  explicit ``stop`` list (``storeflow.rules.defaults``).

Omitted ``enrollment`` and ``stop`` stay ``None`` here; ``storeflow.rules.defaults`` supplies the
per-event defaults when a sequence is compiled, so a stored sequence keeps meaning
"use the defaults" if they improve. ``stop: []`` means "no stop conditions".

This module is the one importers use: it re-exports the classes, the issues and the
errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from storeflow.rules import validation
from storeflow.rules.issues import (
    Invalid,
    Issue,
    Nested,
    PathPart,
    SchemaError,
    format_path,
    issues_of,
)
from storeflow.rules.model import (
    CLASSES,
    EVENT_NAMES,
    FILTER_LIMIT,
    STEP_CLASSES,
    STEP_KEY,
    STEP_KEYS,
    STOP_CLASSES,
    SUBSCRIBER_PREFIX,
    WEEKDAYS,
    Branch,
    Delay,
    DelayUntil,
    Email,
    Enrollment,
    EnrollmentMode,
    EventReceived,
    FieldChanged,
    Filter,
    HasTag,
    MatchRule,
    Sequence,
    Step,
    StopCondition,
    Tag,
    Trigger,
    Unsubscribed,
    Webhook,
    Weekday,
    Window,
    step_key,
    wire_name,
)
from storeflow.rules.operators import OPERATORS
from storeflow.rules.validation import describe

converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
converter.register_structure_hook(str, validation.string)
converter.register_structure_hook(int, validation.integer)


def _literal_hook(literal: Any) -> Callable[[Any, Any], Any]:
    allowed = get_args(literal)
    message = "must be one of " + ", ".join(map(str, allowed))

    def structure_literal(value: Any, _: Any = None) -> Any:
        if isinstance(value, str) and value in allowed:
            return value
        raise Invalid(message)

    return structure_literal


def _list_hook(
    list_type: Any, limit: int | None = None, minimum: int = 0, noun: str = "items"
) -> Callable[[Any, Any], Any]:
    element = get_args(list_type)[0]

    def structure_list(value: Any, _: Any = None) -> list[Any]:
        if type(value) is not list:
            raise Invalid(f"expected a list, got {describe(value)}")
        errors: list[tuple[tuple[PathPart, ...], BaseException]] = []
        if limit is not None and len(value) > limit:
            errors.append(((), Invalid(f"at most {limit} {noun} allowed, got {len(value)}")))
        if len(value) < minimum:
            errors.append(
                ((), Invalid(f"needs at least {minimum} {noun[:-1] if minimum == 1 else noun}"))
            )
        hook = converter.get_structure_hook(element)
        result = []
        for index, item in enumerate(value):
            try:
                result.append(hook(item, element))
            except Exception as error:  # noqa: BLE001 - collected and reported with its index
                errors.append(((index,), error))
        if errors:
            raise Nested(errors)
        return result

    return structure_list


def _filters(limit: int = FILTER_LIMIT, minimum: int = 0) -> Callable[[Any, Any], Any]:
    return _list_hook(list[Filter], limit=limit, minimum=minimum, noun="filters")


def _is_literal(type_: object) -> bool:
    return get_origin(type_) is Literal


def _is_list(type_: object) -> bool:
    return get_origin(type_) is list


converter.register_structure_hook_factory(_is_literal, _literal_hook)
converter.register_structure_hook_factory(_is_list, lambda t: _list_hook(t))

_FIELD_HOOKS: dict[type, dict[str, Callable[[Any, Any], Any]]] = {
    Filter: {"path": validation.path},
    Trigger: {
        "event": validation.event_name,
        "filters": _filters(),
        "subscriber_filters": _filters(),
    },
    Enrollment: {"field_path": validation.scalar_path},
    MatchRule: {"entry_path": validation.path, "event_path": validation.path},
    EventReceived: {
        "event": validation.event_name,
        "filters": _filters(),
        "match": _list_hook(list[MatchRule], limit=FILTER_LIMIT, noun="match rules"),
        "entry_filters": _filters(),
    },
    HasTag: {"tag": validation.non_empty},
    FieldChanged: {"field": validation.subscriber_path},
    Delay: dict.fromkeys(("days", "hours", "minutes", "seconds"), validation.non_negative),
    Window: {
        "start": validation.clock,
        "end": validation.clock,
        "timezone": validation.timezone,
    },
    Email: {
        "subject": validation.template,
        "body": validation.template,
        "html": lambda v, _: None if v is None else validation.html_template(v),
        "from_": lambda v, _: None if v is None else validation.sender(v),
    },
    Webhook: {"url": validation.url},
    Branch: {"if_": _filters(minimum=1)},
    Sequence: {
        "id": validation.slug,
        "name": validation.non_empty,
        "priority": validation.priority,
        "steps": _list_hook(list[Step], minimum=1, noun="steps"),
        "stop_on_repurchase": validation.optional_boolean,
    },
}
# Optional fields and extension lists are left out of the output when unset, so the
# canonical form of a sequence is what an author would write.
_OMIT_WHEN_DEFAULT = {"subscriber_filters", "entry_filters"}


def _register_class(cls: type[Any]) -> None:
    hooks = _FIELD_HOOKS.get(cls, {})
    renames = {
        field.name: override(rename=wire_name(field.name), struct_hook=hooks.get(field.name))
        for field in attrs.fields(cls)
    }
    # mypy also matches ``**renames`` against cattrs' own ``_cattrs_*`` flags, which no
    # field is named after.
    generated = make_dict_structure_fn(cls, converter, **renames)  # type: ignore[arg-type]
    check = validation.CLASS_CHECKS.get(cls)

    def structure_class(value: Any, _: Any = None) -> Any:
        if not isinstance(value, Mapping):
            raise Invalid(f"expected a mapping, got {describe(value)}")
        result = generated(value, cls)
        problems = check(result) if check else []
        if problems:
            raise Nested([((), problem) for problem in problems])
        return result

    converter.register_structure_hook(cls, structure_class)
    omit = {
        field.name: override(
            rename=wire_name(field.name),
            omit_if_default=field.default is None or field.name in _OMIT_WHEN_DEFAULT,
        )
        for field in attrs.fields(cls)
    }
    # As above: the overrides are matched against cattrs' ``_cattrs_*`` flags too.
    generated_unstructure = make_dict_unstructure_fn(cls, converter, **omit)  # type: ignore[arg-type]
    order = [wire_name(field.name) for field in attrs.fields(cls)]

    def unstructure(obj: Any) -> dict[str, Any]:
        # cattrs appends omittable keys last; keep the author's field order instead.
        data = generated_unstructure(obj)
        return {key: data[key] for key in order if key in data}

    if cls in STEP_KEY:
        key = STEP_KEY[cls]

        def unstructure_step(step: Any) -> dict[str, Any]:
            return {key: unstructure(step)}

        converter.register_unstructure_hook(cls, unstructure_step)
    else:
        converter.register_unstructure_hook(cls, unstructure)


def _structure_step(value: Any, _: Any = None) -> Step:
    """``{kind: {...}}`` with exactly one kind; ``delay`` with ``until`` is a DelayUntil."""
    if not isinstance(value, Mapping):
        raise Invalid(
            f"expected a mapping with one of {', '.join(STEP_KEYS)}, got {describe(value)}"
        )
    kinds = [key for key in value if key in STEP_CLASSES]
    unknown = [key for key in value if key not in STEP_CLASSES]
    if not kinds and len(unknown) == 1:
        raise Invalid(
            f"unknown step type {unknown[0]!r}; must be one of {', '.join(STEP_KEYS)}",
            (str(unknown[0]),),
        )
    if len(kinds) != 1:
        found = f", found {' and '.join(kinds)}" if kinds else ""
        raise Invalid(f"must have exactly one of {', '.join(STEP_KEYS)}{found}")
    kind = kinds[0]
    errors: list[tuple[tuple[PathPart, ...], BaseException]] = [
        ((str(key),), Invalid("unknown key")) for key in unknown
    ]
    body = value[kind]
    cls = STEP_CLASSES[kind]
    if kind == "delay" and isinstance(body, Mapping) and "until" in body:
        cls = DelayUntil
        errors += [
            ((kind, str(key)), Invalid("cannot be combined with until"))
            for key in body
            if key != "until"
        ]
        body = {"until": body["until"]}
    try:
        step = converter.structure(body, cls)
    except Exception as error:  # noqa: BLE001 - reported with the step's path
        errors.append(((kind,), error))
    if errors:
        raise Nested(errors)
    return step


def _structure_stop(value: Any, _: Any = None) -> StopCondition:
    if not isinstance(value, Mapping):
        raise Invalid(f"expected a mapping with a type, got {describe(value)}")
    if "type" not in value:
        raise Invalid("required", ("type",))
    cls = STOP_CLASSES.get(value["type"]) if isinstance(value["type"], str) else None
    if cls is None:
        raise Invalid("must be one of " + ", ".join(STOP_CLASSES), ("type",))
    return converter.structure(value, cls)


for _cls in CLASSES:
    _register_class(_cls)
converter.register_structure_hook_func(lambda t: t == Step, _structure_step)
converter.register_structure_hook_func(lambda t: t == StopCondition, _structure_stop)


def structure_sequence(data: Any) -> Sequence:
    """Validate and convert rule-file / API data; raises :class:`SchemaError`."""
    try:
        return converter.structure(data, Sequence)
    except SchemaError:
        raise
    except Exception as error:  # noqa: BLE001 - every problem becomes an Issue
        raise SchemaError(issues_of(error)) from None


def unstructure_sequence(sequence: Sequence) -> dict[str, Any]:
    """The canonical wire form: ``structure_sequence`` of it gives ``sequence`` back."""
    data: dict[str, Any] = converter.unstructure(sequence)
    return data


__all__ = [
    "EVENT_NAMES",
    "FILTER_LIMIT",
    "OPERATORS",
    "STEP_KEYS",
    "SUBSCRIBER_PREFIX",
    "WEEKDAYS",
    "Branch",
    "Delay",
    "DelayUntil",
    "Email",
    "Enrollment",
    "EnrollmentMode",
    "EventReceived",
    "FieldChanged",
    "Filter",
    "HasTag",
    "Invalid",
    "Issue",
    "MatchRule",
    "Nested",
    "PathPart",
    "SchemaError",
    "Sequence",
    "Step",
    "StopCondition",
    "Tag",
    "Trigger",
    "Unsubscribed",
    "Webhook",
    "Weekday",
    "Window",
    "converter",
    "describe",
    "format_path",
    "issues_of",
    "step_key",
    "structure_sequence",
    "unstructure_sequence",
    "wire_name",
]
