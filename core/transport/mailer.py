"""Outgoing email over SMTP (``STOREFLOW_SMTP_URL``, e.g. ``smtp://127.0.0.1:1025``).

``smtp://`` is plain (with STARTTLS when the server offers it), ``smtps://`` is
implicit TLS; user and password may be in the URL. Without a URL, messages stay
in the send ledger (status ``sent`` is then never claimed; see ``storeflow.rules.actions``).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
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
    """Send one message over a connection of its own."""
    with connect(url, timeout) as client:
        client.send_message(build(mail))


def connect(url: str, timeout: float = 30.0) -> smtplib.SMTP:
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
    try:
        if parsed.scheme == "smtp":
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        if parsed.username:
            client.login(unquote(parsed.username), unquote(parsed.password or ""))
    except BaseException:
        client.close()
        raise
    return client


class Transport:
    """One SMTP connection per thread, reused across messages.

    A connection idle for ``check_after`` seconds is checked with NOOP first and
    re-opened if the server dropped it, so a reused connection never turns a message
    that was not sent into an ambiguous one. A failure while sending closes the
    connection (the next message opens a new one) and propagates: the caller decides
    whether the message may have left.
    """

    def __init__(self, timeout: float = 30.0, check_after: float = 5.0) -> None:
        self._timeout = timeout
        self._check_after = check_after
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[smtplib.SMTP] = []
        self.connections_opened = 0

    def send(self, url: str, mail: Mail) -> None:
        client = self._connection(url)
        try:
            client.send_message(build(mail))
        except BaseException:
            self._drop()
            raise
        self._local.used = time.monotonic()

    def _connection(self, url: str) -> smtplib.SMTP:
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        if client is not None and getattr(self._local, "url", None) != url:
            self._drop()
            client = None
        if client is not None and time.monotonic() - self._local.used >= self._check_after:
            try:
                client.noop()
            except (OSError, smtplib.SMTPException):
                self._drop()
                client = None
        if client is None:
            client = connect(url, self._timeout)
            self._local.client, self._local.url = client, url
            self._local.used = time.monotonic()
            with self._lock:
                self._open.append(client)
                self.connections_opened += 1
        return client

    def _drop(self) -> None:
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        self._local.client = None
        if client is None:
            return
        with self._lock:
            if client in self._open:
                self._open.remove(client)
        try:
            client.close()
        except OSError:
            pass

    def close(self) -> None:
        """Quit every thread's connection (at shutdown)."""
        with self._lock:
            clients, self._open = self._open, []
        for client in clients:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
