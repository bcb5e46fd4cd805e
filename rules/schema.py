"""The sequence schema (rule files and ``/api/sequences``) as attrs classes, and its converter.

The wire format is the one in ``spec/api.md`` "Sequence schema": camelCase keys, a
step is a mapping with exactly one of ``delay``, ``email``, ``webhook``, ``tag``,
``branch``, a stop condition is a mapping with a ``type``. The classes carry no
conversion rules; the one converter below does, for both YAML rule files and the
JSON API, so both reject the same mistakes with the same messages:

- unknown keys are errors (``fitlers:`` is a typo, not an extension);
- types are strict: ``priority: "50"`` is an error, not a silent conversion;
- every problem is reported at once, each with its path (``trigger.filters[0].operator``),
  through :class:`SchemaError` (its ``issues``), never only the first one.

Extensions to the api.md example, all optional:

- ``trigger.subscriberFilters``: filters on ``subscriber.*`` paths, kept apart from the
  event filters so a runner can decide on the event before loading the profile;
- ``stop[].entryFilters`` on ``event_received``: filters on the *enrolling* event's
  properties, deciding whether this stop applies to a run (used by the replenishment
  default to pick product- or variant-level matching);
- ``delay: {until: {weekdays, start, end, timezone}}``: wait for a sending window;
- ``{type: unsubscribed}`` may be written but changes nothing: unsubscribing (or being
  suppressed) always stops a run.

Omitted ``enrollment`` and ``stop`` stay ``None`` here; ``storeflow.rules.defaults`` supplies the
per-event defaults when a sequence is compiled, so a stored sequence keeps meaning
"use the defaults" if they improve. ``stop: []`` means "no stop conditions".
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import timedelta
from difflib import get_close_matches
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin
from urllib.parse import urlsplit

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from storeflow.core.commerce import events
from storeflow.core.commerce.records import EventName
from storeflow.core.statuses import SequenceStatus
from storeflow.rules import paths
from storeflow.rules.operators import OPERATORS, Operator, check_value
from storeflow.rules.templates import check_template

# The events a sequence can trigger on and stop at are core's canonical events.
EVENT_NAMES = events.NAMES
FILTER_LIMIT = 10
T = TypeVar("T")
SUBSCRIBER_PREFIX = "subscriber"

EnrollmentMode = Literal["unlimited", "one_time", "matching_field"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


# --- the model -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Filter:
    path: str
    operator: Operator
    value: Any = None  # absent for exists / not_exists; a list for one_of


@attrs.frozen(kw_only=True)
class Trigger:
    event: EventName
    filters: list[Filter] = attrs.Factory(list)
    subscriber_filters: list[Filter] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class Enrollment:
    mode: EnrollmentMode = "unlimited"
    field_path: str | None = None  # required for matching_field; a path without []


@attrs.frozen(kw_only=True)
class MatchRule:
    """The stop event's ``event_path`` must equal the enrolling event's ``entry_path``."""

    entry_path: str
    event_path: str


@attrs.frozen(kw_only=True)
class EventReceived:
    type: Literal["event_received"] = "event_received"
    event: EventName
    filters: list[Filter] = attrs.Factory(list)
    match: list[MatchRule] = attrs.Factory(list)
    entry_filters: list[Filter] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class HasTag:
    type: Literal["has_tag"] = "has_tag"
    tag: str


@attrs.frozen(kw_only=True)
class FieldChanged:
    """Stop when ``field`` (a ``subscriber.`` path) changes, optionally to a matching value."""

    type: Literal["field_changed"] = "field_changed"
    field: str
    operator: Operator | None = None
    value: Any = None


@attrs.frozen(kw_only=True)
class Unsubscribed:
    """Always implied; accepted so a file can say so explicitly."""

    type: Literal["unsubscribed"] = "unsubscribed"


StopCondition = EventReceived | HasTag | FieldChanged | Unsubscribed


@attrs.frozen(kw_only=True)
class Delay:
    kind: ClassVar[str] = "delay"
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @property
    def duration(self) -> timedelta:
        return timedelta(
            days=self.days, hours=self.hours, minutes=self.minutes, seconds=self.seconds
        )


@attrs.frozen(kw_only=True)
class Window:
    """Local sending window: these weekdays, from ``start`` to ``end`` (``HH:MM``)."""

    weekdays: list[Weekday]
    start: str
    end: str  # after start; "24:00" means midnight at the end of the day
    timezone: str  # IANA name


@attrs.frozen(kw_only=True)
class DelayUntil:
    """Wait until the next moment inside ``until`` (now, if already inside)."""

    kind: ClassVar[str] = "delay_until"
    until: Window


@attrs.frozen(kw_only=True)
class Email:
    kind: ClassVar[str] = "email"
    subject: str
    body: str
    from_: str | None = None


@attrs.frozen(kw_only=True)
class Webhook:
    kind: ClassVar[str] = "webhook"
    url: str


@attrs.frozen(kw_only=True)
class Tag:
    kind: ClassVar[str] = "tag"
    add: list[str] = attrs.Factory(list)
    remove: list[str] = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class Branch:
    """Run ``then`` when every ``if`` filter matches (event and ``subscriber.*``), else ``else``."""

    kind: ClassVar[str] = "branch"
    if_: list[Filter]
    then: list[Step] = attrs.Factory(list)
    else_: list[Step] = attrs.Factory(list)


Step = Delay | DelayUntil | Email | Webhook | Tag | Branch
STEP_KEYS: tuple[str, ...] = ("delay", "email", "webhook", "tag", "branch")


@attrs.frozen(kw_only=True)
class Sequence:
    id: str
    name: str
    status: SequenceStatus = "active"
    priority: int = 50  # 0-100; higher wins under the frequency cap
    trigger: Trigger
    enrollment: Enrollment | None = None  # None: the trigger event's default
    stop: list[StopCondition] | None = None  # None: the trigger event's default
    steps: list[Step]


_CLASSES = (
    Filter,
    Trigger,
    Enrollment,
    MatchRule,
    EventReceived,
    HasTag,
    FieldChanged,
    Unsubscribed,
    Delay,
    Window,
    DelayUntil,
    Email,
    Webhook,
    Tag,
    Branch,
    Sequence,
)
for _cls in _CLASSES:
    attrs.resolve_types(_cls, globals(), locals())


# --- errors ----------------------------------------------------------------------------

PathPart = str | int


@attrs.frozen
class Issue:
    """One problem: where (``("trigger", "filters", 0, "operator")``) and what."""

    path: tuple[PathPart, ...]
    message: str

    @property
    def location(self) -> str:
        """``trigger.filters[0].operator``."""
        return format_path(self.path)

    @property
    def json_path(self) -> str:
        """``$.trigger.filters[0].operator``, the API's 422 ``details`` form."""
        rest = self.location
        return "$" if not rest else "$" + ("" if rest.startswith("[") else ".") + rest

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.path else self.message


class SchemaError(ValueError):
    """The data is not a valid sequence; ``issues`` lists every problem."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues


class Invalid(ValueError):
    """Raised by hooks: ``message`` about the value at ``path`` (relative to the hook)."""

    def __init__(self, message: str, path: tuple[PathPart, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class Nested(ValueError):
    """Several errors at relative paths, from one hook."""

    def __init__(self, errors: list[tuple[tuple[PathPart, ...], BaseException]]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


def format_path(path: tuple[PathPart, ...]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def wire_name(attribute: str) -> str:
    """``subscriber_filters`` -> ``subscriberFilters``; ``from_`` -> ``from``."""
    head, *rest = attribute.rstrip("_").split("_")
    return head + "".join(word.capitalize() for word in rest)


def issues_of(error: BaseException, path: tuple[PathPart, ...] = ()) -> list[Issue]:
    """Flatten a structuring error into issues with absolute paths."""
    if isinstance(error, Invalid):
        return [Issue(path + error.path, error.message)]
    if isinstance(error, Nested):
        return [issue for sub, err in error.errors for issue in issues_of(err, path + sub)]
    if isinstance(error, BaseValidationError):
        found: list[Issue] = []
        for sub in error.exceptions:
            found += issues_of(sub, path + _note_path(sub))
        return found
    if isinstance(error, ForbiddenExtraKeysError):
        return [
            Issue(path + (str(key),), "unknown key") for key in sorted(map(str, error.extra_fields))
        ]
    if isinstance(error, KeyError):
        return [Issue(path, "required")]
    return [Issue(path, f"invalid value: {error}")]


def _note_path(error: BaseException) -> tuple[PathPart, ...]:
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return (wire_name(note.name),)
        if isinstance(note, IterableValidationNote):
            return (note.index,)
    return ()


# --- value checks used by the hooks ----------------------------------------------------

_TYPE_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")


def describe(value: Any) -> str:
    word = _TYPE_WORDS.get(type(value), type(value).__name__)
    if value is None:
        return word
    text = repr(value)
    return f"{word.split(' ', 1)[-1]} {text if len(text) <= 40 else text[:37] + '...'}"


def _expect(value: object, kind: type[T], word: str) -> T:
    # Exactly this type: a bool is not an integer here, nor a str subclass a string.
    if type(value) is not kind:
        raise Invalid(f"expected {word}, got {describe(value)}")
    return value


def _structure_str(value: Any, _: Any = None) -> str:
    return _expect(value, str, "a string")


def _structure_int(value: Any, _: Any = None) -> int:
    return _expect(value, int, "an integer")


def _non_empty(value: Any, _: Any = None) -> str:
    text = _structure_str(value)
    if not text.strip():
        raise Invalid("cannot be empty")
    return text


def _slug(value: Any, _: Any = None) -> str:
    text = _structure_str(value)
    if not _SLUG.fullmatch(text):
        raise Invalid(
            "must be a slug: lowercase letters, digits, '-' and '_', at most 64 characters"
        )
    return text


def _priority(value: Any, _: Any = None) -> int:
    number = _structure_int(value)
    if not 0 <= number <= 100:
        raise Invalid(f"must be between 0 and 100, got {number}")
    return number


def _non_negative(value: Any, _: Any = None) -> int:
    number = _structure_int(value)
    if number < 0:
        raise Invalid(f"cannot be negative, got {number}")
    return number


def _event_name(value: Any, _: Any = None) -> EventName:
    name = _structure_str(value)
    if events.is_name(name):
        return name
    close = get_close_matches(name, EVENT_NAMES, n=1)
    hint = f"did you mean {close[0]}?" if close else "must be one of " + ", ".join(EVENT_NAMES)
    raise Invalid(f"unknown event {name!r}; {hint}")


def _path(value: Any, _: Any = None) -> str:
    text = _structure_str(value)
    try:
        paths.parse(text)
    except paths.PathError as error:
        raise Invalid(str(error)) from None
    return text


def _scalar_path(value: Any, _: Any = None) -> str | None:
    if value is None:
        return None
    text = _path(value)
    if paths.parse(text).has_array:
        raise Invalid("must be a path to one value, without []")
    return text


def _subscriber_path(value: Any, _: Any = None) -> str:
    text = _path(value)
    if paths.parse(text).head != SUBSCRIBER_PREFIX or len(paths.parse(text).steps) < 2:
        raise Invalid("must be a subscriber path such as subscriber.ordersCount")
    return text


def _template(value: Any, _: Any = None) -> str:
    text = _structure_str(value)
    problem = check_template(text)
    if problem:
        raise Invalid(problem)
    return text


def _url(value: Any, _: Any = None) -> str:
    text = _structure_str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("must be an http:// or https:// URL")
    return text


def _clock(value: Any, _: Any = None) -> str:
    text = _structure_str(value)
    if not _CLOCK.fullmatch(text):
        raise Invalid("must be a time HH:MM (00:00 to 24:00)")
    return text


def _timezone(value: Any, _: Any = None) -> str:
    name = _structure_str(value)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"unknown timezone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return name


def _check_filter(item: Filter) -> list[Invalid]:
    problem = check_value(item.operator, item.value)
    return [Invalid(problem, ("value",))] if problem else []


def _check_trigger(trigger: Trigger) -> list[Invalid]:
    return [
        Invalid(
            "must be a subscriber path such as subscriber.ordersCount",
            ("subscriberFilters", i, "path"),
        )
        for i, item in enumerate(trigger.subscriber_filters)
        if paths.parse(item.path).head != SUBSCRIBER_PREFIX
    ]


def _check_enrollment(enrollment: Enrollment) -> list[Invalid]:
    if enrollment.mode == "matching_field" and enrollment.field_path is None:
        return [Invalid("required when mode is matching_field", ("fieldPath",))]
    if enrollment.mode != "matching_field" and enrollment.field_path is not None:
        return [Invalid("only allowed when mode is matching_field", ("fieldPath",))]
    return []


def _check_field_changed(stop: FieldChanged) -> list[Invalid]:
    if stop.operator is None:
        return [] if stop.value is None else [Invalid("needs an operator", ("value",))]
    problem = check_value(stop.operator, stop.value)
    return [Invalid(problem, ("value",))] if problem else []


def _check_window(window: Window) -> list[Invalid]:
    problems = []
    if not window.weekdays:
        problems.append(Invalid("needs at least one weekday", ("weekdays",)))
    if len(set(window.weekdays)) != len(window.weekdays):
        problems.append(Invalid("lists a weekday twice", ("weekdays",)))
    if window.start == "24:00":
        problems.append(Invalid("must be before 24:00", ("start",)))
    elif window.end <= window.start:
        problems.append(Invalid("must be after start (windows cannot span midnight)", ("end",)))
    return problems


def _check_tag(step: Tag) -> list[Invalid]:
    problems = [
        Invalid("cannot be empty", (field, i))
        for field, tags in (("add", step.add), ("remove", step.remove))
        for i, tag in enumerate(tags)
        if not tag.strip()
    ]
    if not step.add and not step.remove:
        problems.append(Invalid("needs at least one tag to add or remove"))
    return problems


# --- the converter ---------------------------------------------------------------------

converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(int, _structure_int)


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
    Filter: {"path": _path},
    Trigger: {"event": _event_name, "filters": _filters(), "subscriber_filters": _filters()},
    Enrollment: {"field_path": _scalar_path},
    MatchRule: {"entry_path": _path, "event_path": _path},
    EventReceived: {
        "event": _event_name,
        "filters": _filters(),
        "match": _list_hook(list[MatchRule], limit=FILTER_LIMIT, noun="match rules"),
        "entry_filters": _filters(),
    },
    HasTag: {"tag": _non_empty},
    FieldChanged: {"field": _subscriber_path},
    Delay: dict.fromkeys(("days", "hours", "minutes", "seconds"), _non_negative),
    Window: {"start": _clock, "end": _clock, "timezone": _timezone},
    Email: {
        "subject": _template,
        "body": _template,
        "from_": lambda v, _: None if v is None else _non_empty(v),
    },
    Webhook: {"url": _url},
    Branch: {"if_": _filters(minimum=1)},
    Sequence: {
        "id": _slug,
        "name": _non_empty,
        "priority": _priority,
        "steps": _list_hook(list[Step], minimum=1, noun="steps"),
    },
}
_CLASS_CHECKS: dict[type, Callable[[Any], list[Invalid]]] = {
    Filter: _check_filter,
    Trigger: _check_trigger,
    Enrollment: _check_enrollment,
    FieldChanged: _check_field_changed,
    Window: _check_window,
    Tag: _check_tag,
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
    check = _CLASS_CHECKS.get(cls)

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

    if cls in _STEP_KEY:
        key = _STEP_KEY[cls]

        def unstructure_step(step: Any) -> dict[str, Any]:
            return {key: unstructure(step)}

        converter.register_unstructure_hook(cls, unstructure_step)
    else:
        converter.register_unstructure_hook(cls, unstructure)


_STEP_KEY: dict[type, str] = {
    Delay: "delay",
    DelayUntil: "delay",
    Email: "email",
    Webhook: "webhook",
    Tag: "tag",
    Branch: "branch",
}
_STEP_CLASSES: dict[str, type[Step]] = {
    "delay": Delay,
    "email": Email,
    "webhook": Webhook,
    "tag": Tag,
    "branch": Branch,
}
_STOP_CLASSES: dict[str, type[StopCondition]] = {
    "event_received": EventReceived,
    "has_tag": HasTag,
    "field_changed": FieldChanged,
    "unsubscribed": Unsubscribed,
}


def _structure_step(value: Any, _: Any = None) -> Step:
    """``{kind: {...}}`` with exactly one kind; ``delay`` with ``until`` is a DelayUntil."""
    if not isinstance(value, Mapping):
        raise Invalid(
            f"expected a mapping with one of {', '.join(STEP_KEYS)}, got {describe(value)}"
        )
    kinds = [key for key in value if key in _STEP_CLASSES]
    unknown = [key for key in value if key not in _STEP_CLASSES]
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
    cls = _STEP_CLASSES[kind]
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
    cls = _STOP_CLASSES.get(value["type"]) if isinstance(value["type"], str) else None
    if cls is None:
        raise Invalid("must be one of " + ", ".join(_STOP_CLASSES), ("type",))
    return converter.structure(value, cls)


for _cls in _CLASSES:
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


def step_key(step: Step) -> str:
    """The wire key of a step (``delay`` for both Delay and DelayUntil)."""
    return _STEP_KEY[type(step)]


__all__ = [
    "EVENT_NAMES",
    "OPERATORS",
    "Branch",
    "Delay",
    "DelayUntil",
    "Email",
    "Enrollment",
    "EventReceived",
    "FieldChanged",
    "Filter",
    "HasTag",
    "Issue",
    "MatchRule",
    "SchemaError",
    "Sequence",
    "Step",
    "StopCondition",
    "Tag",
    "Trigger",
    "Unsubscribed",
    "Webhook",
    "Window",
    "converter",
    "issues_of",
    "structure_sequence",
    "unstructure_sequence",
]
