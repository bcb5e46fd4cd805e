"""Built-in step actions, registered through the ``register_actions`` hook like any plugin.

An action is named after its step key in the sequence schema (``email``, ``tag``).
*Internal* actions change storeflow's own state inside the step's transaction.
*External* actions (email) are claimed in the send ledger first, performed outside
any transaction, then recorded: see ``rules.runner``.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs
from sqlalchemy.orm import Session

from core import mailer
from core.hookspecs import hookimpl
from core.tables import Subscriber


@attrs.frozen
class StepContext:
    company_id: int
    enrollment_id: int
    sequence_id: int
    position: int
    subscriber: Subscriber
    event: dict[str, Any]  # the enrolling event's properties
    variables: dict[str, Any]  # what templates see: event, subscriber, product


@attrs.frozen
class Rendered:
    """What an external action will do, fixed before it is claimed in the ledger."""

    to: str
    subject: str
    body: str
    sender: str
    headers: dict[str, str] = attrs.field(factory=dict)


class Action(Protocol):
    name: str
    external: bool


class InternalAction(Action, Protocol):
    def apply(self, session: Session, ctx: StepContext, config: dict[str, Any]) -> str:
        """Do it; return a one-line detail for the step history."""


class ExternalAction(Action, Protocol):
    def render(
        self, ctx: StepContext, config: dict[str, Any], defaults: dict[str, Any]
    ) -> Rendered:
        """Decide exactly what to send (pure; may be called again, must not send)."""

    def perform(self, rendered: Rendered, message_id: str, settings: Any) -> str:
        """Send it (no database). Return "sent" or "kept" (no transport configured)."""


class EmailAction:
    name = "email"
    external = True

    def render(
        self, ctx: StepContext, config: dict[str, Any], defaults: dict[str, Any]
    ) -> Rendered:
        from rules import templates

        unsubscribe = defaults.get("unsubscribe_url", "")
        headers = {}
        if unsubscribe:
            # RFC 8058 one-click: the POST to this URL unsubscribes; a GET never does.
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return Rendered(
            to=ctx.subscriber.email,
            subject=templates.render(config.get("subject", ""), **ctx.variables),
            body=templates.render(config.get("body", ""), **ctx.variables),
            sender=config.get("from") or defaults.get("sender", "storeflow@localhost"),
            headers=headers,
        )

    def perform(self, rendered: Rendered, message_id: str, settings: Any) -> str:
        if not settings.smtp_url:
            return "kept"
        mailer.send(
            settings.smtp_url,
            mailer.Mail(
                sender=rendered.sender,
                to=rendered.to,
                subject=rendered.subject,
                body=rendered.body,
                message_id=message_id,
                headers=rendered.headers,
            ),
        )
        return "sent"


class TagAction:
    name = "tag"
    external = False

    def apply(self, session: Session, ctx: StepContext, config: dict[str, Any]) -> str:
        subscriber = ctx.subscriber
        tags = [t for t in (subscriber.tags or []) if t not in set(config.get("remove") or [])]
        for tag in config.get("add") or []:
            if tag not in tags:
                tags.append(tag)
        subscriber.tags = tags
        return f"tags now {', '.join(tags) or '(none)'}"


@hookimpl
def register_actions() -> list[Any]:
    return [EmailAction(), TagAction()]
