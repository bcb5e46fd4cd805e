"""Compile a sequence once into closures: trigger matching, stop conditions, branch tests.

Nothing here touches a database: callers pass plain dicts (event properties, the
subscriber's attributes) and datetimes, and get booleans and reason strings back.

The subscriber mapping is flat: ``email``, ``firstName``, ``status``, ``tags`` (a list),
``ordersCount``, ``totalSpent`` and the other profile attributes. A path starting with
``subscriber.`` addresses it (``subscriber.ordersCount``); every other path addresses
the event's properties.

Decisions:

- ``match`` ignores the sequence's ``status``: a dry-run of a draft must still say
  who would enter. ``storeflow.rules.index.RuleIndex`` only holds active sequences.
- A ``matching_field`` sequence does not match an event without a value at its
  ``fieldPath``: without a key, duplicate runs could not be told apart.
- Stop events count only when ``occurred_at > enrolled_at`` (strictly), so the
  enrolling event never stops its own run, even when the stop event has the
  trigger's name. Deliveries arrive out of order (an order webhook can land after
  the cart event it follows), so the runner should pass the *entry event's*
  ``occurredAt`` as ``enrolled_at``: an order placed after the cart started then
  stops the run even if it was received after the enrolment was created.
- Stop ``match`` rules are array-aware on both sides: a rule holds when any value at
  ``entryPath`` equals any value at ``eventPath`` (``storeflow.rules.operators.equals``). Each
  rule and each filter is checked on its own, so two filters on ``lineItems[]`` may be
  satisfied by different line items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from collections.abc import Sequence as Seq
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from storeflow.core.statuses import SUBSCRIBER_INACTIVE
from storeflow.rules import defaults, paths
from storeflow.rules.operators import compile_test, equals, is_scalar, number_text
from storeflow.rules.schema import (
    WEEKDAYS,
    Branch,
    EventReceived,
    FieldChanged,
    Filter,
    HasTag,
    Sequence,
    Step,
    Window,
)

Properties = Mapping[str, Any]
Resolver = paths.Resolver


class MatchResult(NamedTuple):
    """Whether an event enrols, and why not (a tuple: cheap on the matching hot path)."""

    matched: bool
    reasons: list[str]


class CompiledFilter:
    """One filter: where its values come from, and the operator's predicate."""

    __slots__ = ("label", "filter", "on_subscriber", "resolve", "test")

    def __init__(self, item: Filter, label: str) -> None:
        path = paths.parse(item.path)
        self.label = label
        self.filter = item
        self.on_subscriber = path.head == "subscriber"
        self.resolve: Resolver = path.tail().resolve if self.on_subscriber else path.resolve
        self.test = compile_test(item.operator, item.value)

    def values(self, properties: Properties, subscriber: Properties) -> list[Any]:
        return self.resolve(subscriber if self.on_subscriber else properties)

    def holds(self, properties: Properties, subscriber: Properties) -> bool:
        return self.test(self.values(properties, subscriber))

    def explain(self, values: list[Any]) -> str:
        item = self.filter
        expected = "" if item.value is None else f" {item.value!r}"
        return f"{self.label} {item.path} {item.operator}{expected}: got {values!r}"


class Condition:
    """Filters that must all hold (an empty condition always holds)."""

    __slots__ = ("filters", "_checks")

    def __init__(self, filters: Iterable[Filter], label: str = "filter") -> None:
        self.filters = [CompiledFilter(item, f"{label}[{i}]") for i, item in enumerate(filters)]
        self._checks = [(f.on_subscriber, f.resolve, f.test) for f in self.filters]

    def holds(self, properties: Properties, subscriber: Properties | None = None) -> bool:
        subscriber = subscriber or {}
        for on_subscriber, resolve, test in self._checks:
            if not test(resolve(subscriber if on_subscriber else properties)):
                return False
        return True

    def failures(self, properties: Properties, subscriber: Properties | None = None) -> list[str]:
        """A reason per filter that does not hold."""
        subscriber = subscriber or {}
        found = []
        for item in self.filters:
            values = item.values(properties, subscriber)
            if not item.test(values):
                found.append(item.explain(values))
        return found

    def __len__(self) -> int:
        return len(self.filters)


def compile_condition(filters: Iterable[Filter], label: str = "filter") -> Condition:
    return Condition(filters, label)


def _any_equal(left: list[Any], right: list[Any]) -> bool:
    return any(equals(a, b) for a in left for b in right)


class _EventStop:
    __slots__ = ("label", "event", "entry_condition", "condition", "rules")

    def __init__(self, stop: EventReceived, label: str) -> None:
        self.label = label
        self.event = stop.event
        self.entry_condition = Condition(stop.entry_filters, f"{label}.entryFilters")
        self.condition = Condition(stop.filters, f"{label}.filters")
        self.rules = [
            (
                rule.entry_path,
                paths.parse(rule.entry_path),
                rule.event_path,
                paths.parse(rule.event_path),
            )
            for rule in stop.match
        ]

    def reason(
        self, entry: Properties, properties: Properties, subscriber: Properties
    ) -> str | None:
        if not self.entry_condition.holds(entry, subscriber):
            return None
        if not self.condition.holds(properties, subscriber):
            return None
        matched = []
        for entry_text, entry_path, event_text, event_path in self.rules:
            wanted = entry_path.resolve(entry)
            if not _any_equal(wanted, event_path.resolve(properties)):
                return None
            matched.append(f"{event_text} = entry {entry_text} {wanted!r}")
        where = f" where {', '.join(matched)}" if matched else ""
        return f"{self.label} event_received {self.event}{where}"


class _FieldStop:
    __slots__ = ("label", "field", "resolve", "test")

    def __init__(self, stop: FieldChanged, label: str) -> None:
        self.label = label
        self.field = stop.field
        self.resolve = paths.parse(stop.field).tail().resolve
        self.test = None if stop.operator is None else compile_test(stop.operator, stop.value)

    def reason(self, old: Properties, new: Properties) -> str | None:
        before, after = self.resolve(old), self.resolve(new)
        if _same_values(before, after):
            return None
        if self.test is not None and not self.test(after):
            return None
        return f"{self.label} field_changed {self.field}: {before!r} -> {after!r}"


def _same_values(left: list[Any], right: list[Any]) -> bool:
    # "10" -> 10 is a change of representation, not of value.
    return len(left) == len(right) and all(
        equals(a, b) or a == b for a, b in zip(left, right, strict=True)
    )


class CompiledSequence:
    """A sequence compiled once; every method is a pure function of its arguments."""

    def __init__(self, sequence: Sequence) -> None:
        trigger = sequence.trigger
        self.sequence = sequence
        self.id = sequence.id
        self.status = sequence.status
        self.priority = sequence.priority
        self.event = trigger.event
        self.enrollment = defaults.effective_enrollment(sequence)
        self.stops = defaults.effective_stops(sequence)
        self.stops_are_default = defaults.uses_default_stops(sequence)
        self.filters = Condition(trigger.filters, "filter")
        self.subscriber_filters = Condition(trigger.subscriber_filters, "subscriberFilter")
        self._checks = self.filters._checks + self.subscriber_filters._checks
        self._key_resolver: Resolver | None = None
        if self.enrollment.mode == "matching_field" and self.enrollment.field_path:
            self._key_resolver = paths.parse(self.enrollment.field_path).resolve
        self._compile_stops()
        self._branches: dict[int, tuple[Branch, Condition]] = {}
        self._compile_branches(sequence.steps)

    # --- trigger -------------------------------------------------------------------

    def matches(
        self, event_name: str, properties: Properties, subscriber: Properties | None = None
    ) -> bool:
        """``match(...).matched`` without building reasons (the hot path)."""
        if event_name != self.event:
            return False
        subscriber = subscriber or {}
        for on_subscriber, resolve, test in self._checks:
            if not test(resolve(subscriber if on_subscriber else properties)):
                return False
        return self._key_resolver is None or self.enrollment_key(properties) is not None

    def matcher_without(
        self, filter_index: int
    ) -> Callable[[Properties, Properties | None], bool] | None:
        """``matches`` minus the event name and ``trigger.filters[filter_index]``.

        For ``storeflow.rules.index``, which has established both for its candidates. None when
        nothing is left to check.
        """
        checks = [c for i, c in enumerate(self.filters._checks) if i != filter_index]
        checks += self.subscriber_filters._checks
        needs_key = self._key_resolver is not None
        enrollment_key = self.enrollment_key
        if not checks and not needs_key:
            return None

        def residual(properties: Properties, subscriber: Properties | None = None) -> bool:
            subscriber = subscriber or {}
            for on_subscriber, resolve, test in checks:
                if not test(resolve(subscriber if on_subscriber else properties)):
                    return False
            return not needs_key or enrollment_key(properties) is not None

        return residual

    def match(
        self, event_name: str, properties: Properties, subscriber: Properties | None = None
    ) -> MatchResult:
        """Whether the event enrols the subscriber, and every reason why not."""
        if event_name != self.event:
            return MatchResult(False, [f"event {event_name} is not the trigger event {self.event}"])
        reasons = self.filters.failures(properties, subscriber)
        reasons += self.subscriber_filters.failures(properties, subscriber)
        if self._key_resolver is not None and self.enrollment_key(properties) is None:
            reasons.append(f"enrollment.fieldPath {self.enrollment.field_path}: no value")
        return MatchResult(not reasons, reasons)

    def enrollment_key(self, properties: Properties) -> str | None:
        """The ``matching_field`` value as text (``501`` and ``"501"`` give ``"501"``).

        None for other modes, and when the path holds no scalar value.
        """
        if self._key_resolver is None:
            return None
        for value in self._key_resolver(properties):
            return number_text(value) if is_scalar(value) else None
        return None

    # --- stop conditions -----------------------------------------------------------

    def _compile_stops(self) -> None:
        prefix = "default " if self.stops_are_default else ""
        self._event_stops: dict[str, list[_EventStop]] = {}
        self._tag_stops: list[tuple[str, str]] = []
        self._field_stops: list[_FieldStop] = []
        for i, stop in enumerate(self.stops):
            label = f"{prefix}stop[{i}]"
            if isinstance(stop, EventReceived):
                self._event_stops.setdefault(stop.event, []).append(_EventStop(stop, label))
            elif isinstance(stop, HasTag):
                self._tag_stops.append((label, stop.tag))
            elif isinstance(stop, FieldChanged):
                self._field_stops.append(_FieldStop(stop, label))
        self.stop_events = frozenset(self._event_stops)

    def stop_reason(
        self,
        entry_properties: Properties,
        event_name: str,
        properties: Properties,
        occurred_at: datetime,
        enrolled_at: datetime,
        subscriber: Properties | None = None,
    ) -> str | None:
        """Why the event stops a run that enrolled with ``entry_properties``, or None.

        Only events strictly after ``enrolled_at`` count (see the module docstring).
        """
        if occurred_at <= enrolled_at:
            return None
        for stop in self._event_stops.get(event_name, ()):
            reason = stop.reason(entry_properties, properties, subscriber or {})
            if reason:
                return reason
        return None

    def tag_stop_reason(self, tags: Iterable[str]) -> str | None:
        present = set(tags)
        for label, tag in self._tag_stops:
            if tag in present:
                return f"{label} has_tag {tag}"
        return None

    def field_stop_reason(self, old: Properties, new: Properties) -> str | None:
        """Compare subscriber attributes before and after a change."""
        for stop in self._field_stops:
            reason = stop.reason(old, new)
            if reason:
                return reason
        return None

    def subscriber_stop_reason(self, subscriber: Properties) -> str | None:
        """Unsubscribed or suppressed (always a stop), else a ``has_tag`` stop."""
        status = subscriber.get("status")
        if status in SUBSCRIBER_INACTIVE:
            return f"subscriber {status}"
        return self.tag_stop_reason(subscriber.get("tags") or ())

    # --- steps ---------------------------------------------------------------------

    def _compile_branches(self, steps: Seq[Step]) -> None:
        for step in steps:
            if isinstance(step, Branch):
                # Keyed by identity; the Branch itself is kept so the id cannot be reused.
                self._branches[id(step)] = (step, Condition(step.if_, "if"))
                self._compile_branches(step.then)
                self._compile_branches(step.else_)

    def branch_condition(self, step: Branch) -> Condition:
        """The compiled ``if`` of a branch of this sequence (compiled now if foreign)."""
        found = self._branches.get(id(step))
        if found is not None and found[0] is step:
            return found[1]
        return Condition(step.if_, "if")

    def __repr__(self) -> str:
        return f"<CompiledSequence {self.id} on {self.event}>"


def compile_sequence(sequence: Sequence) -> CompiledSequence:
    return CompiledSequence(sequence)


def next_send_time(window: Window, after: datetime) -> datetime:
    """The first instant at or after ``after`` inside ``window``, in UTC.

    Windows are local wall-clock times, so each day's opening and closing are
    converted through the zone (a window opening inside a DST gap opens at the
    same wall time shifted by the jump).
    """
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    zone = ZoneInfo(window.timezone)
    opens_at = _clock(window.start)
    local_day = after.astimezone(zone).date()
    allowed = {WEEKDAYS.index(day) for day in window.weekdays}
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in allowed:
            continue
        opens = datetime.combine(day, opens_at, tzinfo=zone).astimezone(UTC)
        if window.end == "24:00":
            closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        else:
            closes = datetime.combine(day, _clock(window.end), tzinfo=zone)
        if after < opens:
            return opens
        if after < closes.astimezone(UTC):
            return after.astimezone(UTC)
    raise ValueError("window has no weekdays")


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
