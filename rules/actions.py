"""Built-in step actions, registered through the ``register_actions`` hook like any plugin.

An action is named after its step key in the sequence schema (``email``, ``webhook``,
``tag``). *Internal* actions change storeflow's own state inside the step's
transaction. *External* actions (email, webhook) are claimed in the send ledger
first, performed outside any transaction, then recorded (see ``storeflow.rules.runner``):

- ``render(ctx, config, defaults)`` decides exactly what to send (no I/O; it is
  called again for a retry, so it must not have effects). The step runner calls it
  after the claim has committed, outside any transaction (templates may take up to
  their time budget), so it must not use the database: ``ctx.subscriber`` is a
  detached row;
- ``perform(rendered, message_id, settings)`` does it and returns ``"sent"`` (or
  ``"kept"`` when no transport is configured). To say how it went wrong it raises
  :class:`RetryLater` (certainly not delivered: try again later),
  :class:`MaybeSent` (the outcome is unknown: never retried), :class:`Rejected`
  (the recipient's server refused the address for good: failed, and the address is
  suppressed) or anything else (certainly not delivered, and retrying will not
  help: failed).

Emails are text, or text and HTML (``html:`` in the step) as ``multipart/alternative``.
They carry RFC 8058 one-click unsubscribe headers (``List-Unsubscribe`` with the
subscriber's token URL and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``)
and the same link in a footer (of both parts). Each template field renders under
the budget of ``storeflow.rules.templates``; a failure names the field. Webhooks are JSON, signed with the company's
Standard Webhooks secret (the ``standardwebhooks`` library), and go through
``storeflow.core.transport.outbound``'s SSRF guard.
"""

from __future__ import annotations

import base64
import json
import secrets
import smtplib
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import attrs
from markupsafe import escape
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from storeflow.core import emails
from storeflow.core.hookspecs import hookimpl
from storeflow.core.storage.tables import Company, Message, Subscriber
from storeflow.core.transport import mailer, outbound

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

SECRET_KEY = "webhookSigningSecret"


class RetryLater(Exception):
    """Certainly not delivered (refused, temporarily failed): the runner retries later."""


class MaybeSent(Exception):
    """Broke mid-way: it may have been delivered, so it is marked unknown, not retried."""


class Rejected(Exception):
    """The recipient's server refused the address for good (an SMTP 5xx at RCPT TO, or
    a 5.1.x "bad mailbox" status): failed, and the address is suppressed."""


@attrs.frozen
class StepContext:
    company_id: int
    enrollment_id: int
    sequence_id: int
    sequence: str  # the sequence's id (slug)
    position: int
    subscriber: Subscriber
    event: dict[str, Any]  # the enrolling event's properties
    variables: dict[str, Any]  # what templates see: event, subscriber, product
    entry_event: dict[str, Any] = attrs.field(factory=dict)  # {id, name, occurredAt}


@attrs.frozen
class Rendered:
    """What an external action will do, fixed before it is claimed in the ledger."""

    to: str
    subject: str
    body: str
    sender: str
    headers: dict[str, str] = attrs.field(factory=dict)
    url: str | None = None  # webhooks
    html: str | None = None  # emails with an HTML part


def store_content(message: Message, rendered: Rendered) -> None:
    """What was rendered, on the ledger row (the text part for an email)."""
    message.subject = rendered.subject[:1000]
    message.body = rendered.body
    message.sender = rendered.sender[:320]


# What ``perform`` reports: delivered, or kept in the ledger for want of a transport.
Performed = Literal["sent", "kept"]


class InternalAction(Protocol):
    name: str

    @property
    def external(self) -> Literal[False]: ...

    def apply(self, session: Session, ctx: StepContext, config: dict[str, Any]) -> str:
        """Do it; return a one-line detail for the step history."""


class ExternalAction(Protocol):
    name: str

    @property
    def external(self) -> Literal[True]: ...

    def render(
        self, ctx: StepContext, config: dict[str, Any], defaults: dict[str, Any]
    ) -> Rendered:
        """Decide exactly what to send (pure; may be called again, must not send)."""

    def perform(self, rendered: Rendered, message_id: str, rt: Runtime) -> Performed:
        """Send it (no database). Return "sent" or "kept" (no transport configured).

        ``rt`` gives the settings and the runtime's transports (``rt.mail`` reuses one
        SMTP connection per worker thread)."""


# A step action as ``register_actions`` returns it; ``external`` tells which kind.
Action = InternalAction | ExternalAction


# --- email ------------------------------------------------------------------------------

_RETRYABLE_SMTP = (
    ConnectionRefusedError,
    socket.gaierror,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
)


class EmailAction:
    name = "email"
    external: Final = True

    def render(
        self, ctx: StepContext, config: dict[str, Any], defaults: dict[str, Any]
    ) -> Rendered:
        unsubscribe = defaults.get("unsubscribe_url", "")
        headers = {}
        subject = " ".join(_render("subject", config.get("subject", ""), ctx).split())
        body = _render("body", config.get("body", ""), ctx)
        source = config.get("html")
        html = _render("html", source, ctx, html=True) if source else None
        if unsubscribe:
            # RFC 8058 one-click: the POST to this URL unsubscribes; a GET never does.
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            body = f"{body.rstrip()}\n\n--\nUnsubscribe: {unsubscribe}\n"
            if html is not None:
                html = _html_footer(html, unsubscribe)
        return Rendered(
            to=ctx.subscriber.email,
            subject=subject,
            body=body,
            sender=config.get("from") or defaults.get("sender", "storeflow@localhost"),
            headers=headers,
            html=html,
        )

    def perform(self, rendered: Rendered, message_id: str, rt: Runtime) -> Performed:
        smtp_url = rt.settings.smtp_url
        if not smtp_url:
            return "kept"
        mail = mailer.Mail(
            sender=rendered.sender,
            to=rendered.to,
            subject=rendered.subject,
            body=rendered.body,
            message_id=message_id,
            headers=rendered.headers,
            html=rendered.html,
        )
        try:
            rt.mail.send(smtp_url, mail)
        except emails.InvalidAddress as error:
            raise ValueError(f"not a valid address: {error}") from error  # failed, for good
        except _RETRYABLE_SMTP as error:  # nothing was handed over yet
            raise RetryLater(f"{type(error).__name__}: {error}") from error
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = _first_refusal(error)
            text = f"{code} {reply}".strip()
            if 400 <= code < 500:
                raise RetryLater(f"the recipient was refused for now: {text}") from error
            raise Rejected(f"the recipient's server refused the address: {text}") from error
        except smtplib.SMTPResponseException as error:
            # A 4xx may pass later, a 5xx will not; only a 5.1.x status blames the address.
            reply = _reply(error.smtp_error)
            text = f"{error.smtp_code} {reply}".strip()
            if 400 <= error.smtp_code < 500:
                raise RetryLater(f"{type(error).__name__}: {text}") from error
            if reply.startswith("5.1."):
                raise Rejected(f"the recipient's server refused the address: {text}") from error
            raise RuntimeError(f"the SMTP server refused the message: {text}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise MaybeSent(f"{type(error).__name__}: {error}") from error
        return "sent"


def _render(field: str, source: str, ctx: StepContext, *, html: bool = False) -> str:
    from storeflow.rules import templates

    try:
        return templates.render(source, html=html, **ctx.variables)
    except templates.RenderError as error:
        raise type(error)(f"{field}: {error}") from error


def _html_footer(html: str, unsubscribe: str) -> str:
    footer = (
        '<p style="font-size:12px;color:#666666">'
        f'<a href="{escape(unsubscribe)}">Unsubscribe</a></p>'
    )
    at = html.lower().rfind("</body>")
    return f"{html[:at]}{footer}{html[at:]}" if at >= 0 else f"{html}\n{footer}\n"


def _reply(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())


def _first_refusal(error: smtplib.SMTPRecipientsRefused) -> tuple[int, str]:
    for code, reply in error.recipients.values():
        return int(code), _reply(reply)
    return 550, ""


# --- webhook ----------------------------------------------------------------------------


def signing_secret(company: Company) -> str:
    """The company's Standard Webhooks secret (``whsec_...``), created on first use."""
    settings = dict(company.settings or {})
    secret = settings.get(SECRET_KEY)
    if not secret:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        settings[SECRET_KEY] = secret
        company.settings = settings  # a new dict: JSON columns do not track mutation
    return str(secret)


class WebhookAction:
    name = "webhook"
    external: Final = True

    def render(
        self, ctx: StepContext, config: dict[str, Any], defaults: dict[str, Any]
    ) -> Rendered:
        webhook_id = defaults["webhook_id"]
        payload = {
            "type": "sequence.step",
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {
                "sequence": ctx.sequence,
                "enrollmentId": ctx.enrollment_id,
                "step": ctx.position,
                "subscriber": {
                    "email": ctx.subscriber.email,
                    "firstName": ctx.subscriber.first_name,
                    "lastName": ctx.subscriber.last_name,
                    "status": ctx.subscriber.status,
                    "tags": list(ctx.subscriber.tags or []),
                    "attributes": dict(ctx.subscriber.attributes or {}),
                },
                "event": {**ctx.entry_event, "properties": ctx.event},
            },
        }
        body = json.dumps(payload, separators=(",", ":"), default=str)
        signed_at = datetime.now(UTC)
        signature = Webhook(defaults["signing_secret"]).sign(webhook_id, signed_at, body)
        return Rendered(
            to=ctx.subscriber.email,
            subject=f"POST {config['url']}",
            body=body,
            sender="",
            url=config["url"],
            headers={
                "Content-Type": "application/json",
                "User-Agent": "storeflow-webhooks/1",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(signed_at.timestamp())),
                "webhook-signature": signature,
            },
        )

    def perform(self, rendered: Rendered, message_id: str, rt: Runtime) -> Performed:
        try:
            response = outbound.post(rendered.url or "", rendered.body.encode(), rendered.headers)
        except outbound.BlockedURL:
            raise  # a permanent refusal: failed with the reason
        except OSError as error:
            # Standard Webhooks receivers dedupe on webhook-id, so a retry is safe even
            # when the request may have arrived.
            raise RetryLater(f"{type(error).__name__}: {error}") from error
        if 200 <= response.status < 300:
            return "sent"
        if response.status in (408, 425, 429) or response.status >= 500:
            raise RetryLater(f"the receiver answered {response.status}")
        raise RuntimeError(f"the receiver answered {response.status}")


# --- tag --------------------------------------------------------------------------------


class TagAction:
    name = "tag"
    external: Final = False

    def apply(self, session: Session, ctx: StepContext, config: dict[str, Any]) -> str:
        subscriber = ctx.subscriber
        tags = [t for t in (subscriber.tags or []) if t not in set(config.get("remove") or [])]
        for tag in config.get("add") or []:
            if tag not in tags:
                tags.append(tag)
        subscriber.tags = tags
        return f"tags now {', '.join(tags) or '(none)'}"


@hookimpl
def register_actions() -> list[Action]:
    return [EmailAction(), WebhookAction(), TagAction()]
