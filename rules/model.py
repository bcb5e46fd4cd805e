"""The sequence schema's classes: what a rule file or an ``/api/sequences`` body becomes.

The classes carry no conversion rules: ``storeflow.rules.schema`` structures wire data
into them (and back), with the checks of ``storeflow.rules.validation``. Importers use
``storeflow.rules.schema``, which re-exports everything here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal, get_args

import attrs

from storeflow.core.commerce import events
from storeflow.core.commerce.records import EventName
from storeflow.core.statuses import SequenceStatus
from storeflow.rules.operators import Operator

# The events a sequence can trigger on and stop at are core's canonical events.
EVENT_NAMES = events.NAMES
FILTER_LIMIT = 10
SUBSCRIBER_PREFIX = "subscriber"

EnrollmentMode = Literal["unlimited", "one_time", "matching_field"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)


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
    body: str  # the text part
    html: str | None = None  # an HTML part too (multipart/alternative), when given
    from_: str | None = None  # one address, optionally with a display name


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
    # ecommerce.replenishment_due only: stop when the product is bought again.
    # None: as ``stop`` says (on when it is omitted); True: on, besides an explicit
    # ``stop`` list; False: off, even when ``stop`` is omitted (storeflow.rules.defaults).
    stop_on_repurchase: bool | None = None
    steps: list[Step]


CLASSES = (
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
for _cls in CLASSES:
    attrs.resolve_types(_cls, globals(), locals())

# The wire key of each step class, and the class each key (or stop ``type``) names.
STEP_KEY: dict[type, str] = {
    Delay: "delay",
    DelayUntil: "delay",
    Email: "email",
    Webhook: "webhook",
    Tag: "tag",
    Branch: "branch",
}
STEP_CLASSES: dict[str, type[Step]] = {
    "delay": Delay,
    "email": Email,
    "webhook": Webhook,
    "tag": Tag,
    "branch": Branch,
}
STOP_CLASSES: dict[str, type[StopCondition]] = {
    "event_received": EventReceived,
    "has_tag": HasTag,
    "field_changed": FieldChanged,
    "unsubscribed": Unsubscribed,
}


def step_key(step: Step) -> str:
    """The wire key of a step (``delay`` for both Delay and DelayUntil)."""
    return STEP_KEY[type(step)]


def wire_name(attribute: str) -> str:
    """``subscriber_filters`` -> ``subscriberFilters``; ``from_`` -> ``from``."""
    head, *rest = attribute.rstrip("_").split("_")
    return head + "".join(word.capitalize() for word in rest)
