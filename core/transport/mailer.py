"""Outgoing email over SMTP (``STOREFLOW_SMTP_URL``, e.g. ``smtp://127.0.0.1:1025``).

``smtp://`` is plain (with STARTTLS when the server offers it), ``smtps://`` is
implicit TLS; user and password may be in the URL. Without a URL, messages stay
in the send ledger (status ``sent`` is then never claimed; see ``storeflow.rules.actions``).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlparse

import attrs


@attrs.frozen
class Mail:
    sender: str
    to: str
    subject: str
    body: str
    message_id: str
    headers: dict[str, str] = attrs.field(factory=dict)


def build(mail: Mail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    # Derived from the ledger key: a duplicate, should one ever happen, is recognisable.
    msg["Message-ID"] = mail.message_id
    for name, value in mail.headers.items():
        msg[name] = value
    msg.set_content(mail.body)
    return msg


def send(url: str, mail: Mail, timeout: float = 30.0) -> None:
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    if parsed.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, parsed.port or 465, timeout=timeout, context=ssl.create_default_context()
        )
    elif parsed.scheme == "smtp":
        client = smtplib.SMTP(host, parsed.port or 25, timeout=timeout)
    else:
        raise ValueError(f"unsupported SMTP URL scheme {parsed.scheme!r}")
    with client:
        if parsed.scheme == "smtp":
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        if parsed.username:
            client.login(unquote(parsed.username), unquote(parsed.password or ""))
        client.send_message(build(mail))
