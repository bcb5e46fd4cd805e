"""What the sequence converter checks beyond types: values, and fields against each other.

Value hooks take the raw wire value (and cattrs' type argument, unused) and return it
checked, or raise :class:`~storeflow.rules.issues.Invalid`: types are strict
(``priority: "50"`` is an error, not a silent conversion), slugs, dot-paths, event
names, templates, URLs, clock times and timezones are parsed. Class checks run on a
structured object and return every problem of its fields taken together (a
``matching_field`` enrollment without a ``fieldPath``, a window that ends before it
starts). ``storeflow.rules.schema`` attaches both to the classes' fields.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from difflib import get_close_matches
from typing import Any, TypeVar
from urllib.parse import urlsplit

from storeflow.core import emails
from storeflow.core.commerce import events
from storeflow.core.commerce.records import EventName
from storeflow.rules import paths
from storeflow.rules.issues import Invalid
from storeflow.rules.model import (
    EVENT_NAMES,
    SUBSCRIBER_PREFIX,
    Delay,
    Enrollment,
    FieldChanged,
    Filter,
    Sequence,
    Tag,
    Trigger,
    Window,
)
from storeflow.rules.operators import check_value
from storeflow.rules.templates import check_template

T = TypeVar("T")

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


# --- value hooks -----------------------------------------------------------------------


def string(value: Any, _: Any = None) -> str:
    return _expect(value, str, "a string")


def integer(value: Any, _: Any = None) -> int:
    return _expect(value, int, "an integer")


def non_empty(value: Any, _: Any = None) -> str:
    text = string(value)
    if not text.strip():
        raise Invalid("cannot be empty")
    return text


def slug(value: Any, _: Any = None) -> str:
    text = string(value)
    if not _SLUG.fullmatch(text):
        raise Invalid(
            "must be a slug: lowercase letters, digits, '-' and '_', at most 64 characters"
        )
    return text


def priority(value: Any, _: Any = None) -> int:
    number = integer(value)
    if not 0 <= number <= 100:
        raise Invalid(f"must be between 0 and 100, got {number}")
    return number


def non_negative(value: Any, _: Any = None) -> int:
    number = integer(value)
    if number < 0:
        raise Invalid(f"cannot be negative, got {number}")
    return number


def event_name(value: Any, _: Any = None) -> EventName:
    name = string(value)
    if events.is_name(name):
        return name
    close = get_close_matches(name, EVENT_NAMES, n=1)
    hint = f"did you mean {close[0]}?" if close else "must be one of " + ", ".join(EVENT_NAMES)
    raise Invalid(f"unknown event {name!r}; {hint}")


def path(value: Any, _: Any = None) -> str:
    text = string(value)
    try:
        paths.parse(text)
    except paths.PathError as error:
        raise Invalid(str(error)) from None
    return text


def scalar_path(value: Any, _: Any = None) -> str | None:
    if value is None:
        return None
    text = path(value)
    if paths.parse(text).has_array:
        raise Invalid("must be a path to one value, without []")
    return text


def subscriber_path(value: Any, _: Any = None) -> str:
    text = path(value)
    if paths.parse(text).head != SUBSCRIBER_PREFIX or len(paths.parse(text).steps) < 2:
        raise Invalid("must be a subscriber path such as subscriber.ordersCount")
    return text


def template(value: Any, _: Any = None) -> str:
    text = string(value)
    problem = check_template(text)
    if problem:
        raise Invalid(problem)
    return text


def html_template(value: Any, _: Any = None) -> str:
    text = string(value)
    problem = check_template(text, html=True)
    if problem:
        raise Invalid(problem)
    return text


def sender(value: Any, _: Any = None) -> str:
    """One sender address (``Shop <shop@example.com>``), never a list or a line break."""
    text = non_empty(value)
    try:
        emails.parse_sender(text)
    except emails.InvalidAddress as error:
        raise Invalid(f"not one valid email address: {error}") from None
    return text


def url(value: Any, _: Any = None) -> str:
    text = string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("must be an http:// or https:// URL")
    return text


def clock(value: Any, _: Any = None) -> str:
    text = string(value)
    if not _CLOCK.fullmatch(text):
        raise Invalid("must be a time HH:MM (00:00 to 24:00)")
    return text


def timezone(value: Any, _: Any = None) -> str:
    name = string(value)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"unknown timezone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return name


# --- class checks ----------------------------------------------------------------------


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


# --- hardening: delays are bounded ---
# A delay longer than this is a typo or an attack (10**18 days overflows every date
# type); five years covers any real reminder cadence.
MAX_DELAY_DAYS = 5 * 365 + 1
MAX_DELAY_SECONDS = MAX_DELAY_DAYS * 86400


def _check_delay(delay: Delay) -> list[Invalid]:
    # Integer arithmetic: timedelta(days=10**18) itself raises OverflowError.
    seconds = delay.days * 86400 + delay.hours * 3600 + delay.minutes * 60 + delay.seconds
    if seconds <= MAX_DELAY_SECONDS:
        return []
    return [
        Invalid(
            f"a delay is at most {MAX_DELAY_DAYS} days (5 years); this one is "
            f"{seconds // 86400} days"
        )
    ]


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


# --- replenishment: the repurchase stop ---


def optional_boolean(value: Any, _: Any = None) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise Invalid(f"expected a boolean, got {describe(value)}")


def _check_sequence(sequence: Sequence) -> list[Invalid]:
    if sequence.stop_on_repurchase is None:
        return []
    if sequence.trigger.event != "ecommerce.replenishment_due":
        return [
            Invalid(
                "only for sequences triggered by ecommerce.replenishment_due",
                ("stopOnRepurchase",),
            )
        ]
    return []


CLASS_CHECKS: dict[type, Callable[[Any], list[Invalid]]] = {
    Sequence: _check_sequence,
    Filter: _check_filter,
    Trigger: _check_trigger,
    Enrollment: _check_enrollment,
    FieldChanged: _check_field_changed,
    Window: _check_window,
    Tag: _check_tag,
    Delay: _check_delay,
}
