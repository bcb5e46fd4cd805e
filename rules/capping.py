"""Frequency capping with priorities: how many marketing emails a subscriber gets.

A company's cap lives in ``Company.settings["frequencyCap"]`` (and is edited through
``/api/settings/frequency-cap``):

    {"enabled": true, "maxMessages": 1, "windowHours": 16, "whenCapped": "delay"}

The default is Klaviyo's Smart Sending default: at most 1 email per 16 hours.

Priorities decide who waits. Each sequence has a ``priority`` (0-100, copied onto
its ledger rows when they are claimed). An email of priority ``p`` is capped when
the subscriber already got ``maxMessages`` emails of priority **>= p** in the window:

- a lower-priority email never holds back a higher one: the abandoned cart or the
  restock alert goes out even though the morning's newsletter used the window (the
  complaint peers hear most, "the promo ate my cart email"). The price is that
  within one window a subscriber may get one email per priority level that
  pre-empted, never more than ``maxMessages`` of any level and above;
- an email blocked by an equal or higher one is **delayed** until the window has
  room for it (``whenCapped: delay``, the default), or **skipped** (``skip``); either
  way the ledger row says why (``queued`` / ``skipped`` with ``reason``). Nothing is
  dropped silently.

What counts: email ledger rows of the subscriber claimed in the window that may
have reached them (``sending``, ``sent``, ``unknown``). Webhooks are not capped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core.statuses import MESSAGE_COUNTED
from storeflow.core.storage.tables import Message, Sequence

SETTINGS_KEY = "frequencyCap"
WhenCapped = Literal["delay", "skip"]


@attrs.frozen
class FrequencyCap:
    enabled: bool = True
    max_messages: int = 1
    window_hours: float = 16.0
    when_capped: WhenCapped = "delay"

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.window_hours)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "maxMessages": self.max_messages,
            "windowHours": self.window_hours,
            "whenCapped": self.when_capped,
        }


class InvalidCap(ValueError):
    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{d['path']}: {d['message']}" for d in details))
        self.details = details


def parse(data: Any) -> FrequencyCap:
    """Validate API input (every key optional; unknown keys rejected)."""
    if not isinstance(data, Mapping):
        raise InvalidCap([{"path": "$", "message": "expected an object"}])
    problems = [
        {"path": f"$.{key}", "message": "unknown key"}
        for key in data
        if key not in ("enabled", "maxMessages", "windowHours", "whenCapped")
    ]
    cap = FrequencyCap()
    enabled = data.get("enabled", cap.enabled)
    if type(enabled) is not bool:
        problems.append({"path": "$.enabled", "message": "expected a boolean"})
    most = data.get("maxMessages", cap.max_messages)
    if type(most) is not int or not 1 <= most <= 100:
        problems.append({"path": "$.maxMessages", "message": "expected an integer from 1 to 100"})
    hours = data.get("windowHours", cap.window_hours)
    if type(hours) not in (int, float) or not 0 < hours <= 24 * 30:
        problems.append(
            {"path": "$.windowHours", "message": "expected a number of hours above 0, up to 720"}
        )
    when = data.get("whenCapped", cap.when_capped)
    if when not in ("delay", "skip"):
        problems.append({"path": "$.whenCapped", "message": "must be one of delay, skip"})
    if problems:
        raise InvalidCap(problems)
    return FrequencyCap(enabled, most, float(hours), when)


def from_settings(settings: Mapping[str, Any] | None) -> FrequencyCap:
    """The company's cap; stored settings that no longer validate fall back to the default."""
    stored = (settings or {}).get(SETTINGS_KEY)
    if stored is None:
        return FrequencyCap()
    try:
        return parse(stored)
    except InvalidCap:
        return FrequencyCap()


@attrs.frozen
class Sent:
    """An email that counts against the cap."""

    at: datetime
    priority: int
    sequence: str


@attrs.frozen
class Verdict:
    allowed: bool
    reason: str | None = None
    until: datetime | None = None  # when a delayed email may try again


def check(cap: FrequencyCap, priority: int, recent: Iterable[Sent], now: datetime) -> Verdict:
    """Whether an email of ``priority`` may go now, given what was sent (pure)."""
    if not cap.enabled:
        return Verdict(True)
    since = now - cap.window
    blocking = sorted(
        (item for item in recent if item.at > since and item.priority >= priority),
        key=lambda item: item.at,
    )
    if len(blocking) < cap.max_messages:
        return Verdict(True)
    # The window has room again once enough of the blocking emails have aged out.
    until = blocking[len(blocking) - cap.max_messages].at + cap.window
    latest = blocking[-1]
    reason = (
        f"frequency cap: {len(blocking)} email(s) of priority >= {priority} in the last "
        f"{cap.window_hours:g} h (latest from sequence {latest.sequence} at "
        f"{latest.at.isoformat(timespec='seconds')})"
    )
    return Verdict(False, reason, until)


def recent_sends(
    session: Session, subscriber_id: int, since: datetime, exclude_message: int | None = None
) -> list[Sent]:
    query = (
        select(Message.created_at, Message.priority, Sequence.slug)
        .join(Sequence, Sequence.id == Message.sequence_id)
        .where(
            Message.subscriber_id == subscriber_id,
            Message.channel == "email",
            Message.status.in_(MESSAGE_COUNTED),
            Message.created_at > since,
        )
    )
    if exclude_message is not None:
        query = query.where(Message.id != exclude_message)
    return [Sent(at, priority, slug) for at, priority, slug in session.execute(query)]
