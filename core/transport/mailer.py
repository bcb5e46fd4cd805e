"""Outgoing email over SMTP (``STOREFLOW_SMTP_URL``, e.g. ``smtp://127.0.0.1:1025``).

``smtps://`` is implicit TLS. ``smtp://`` uses STARTTLS when the server offers it, and
*requires* it when the URL has a user and password: a password is never sent in the
clear unless the URL says so with ``?tls=none`` (a relay on the same host).
``?tls=starttls`` requires STARTTLS even without a login. Certificates are verified
(the system's CA store).

Messages are ``multipart/alternative`` (text, then HTML) when there is an HTML body.
The envelope is explicit: exactly one recipient, the validated address of the
message (never whatever the ``To`` header parses into), and the bare address of the
sender. Internationalised domains go out as punycode, so SMTPUTF8 is only needed
(and asked for) when the local part itself is not ASCII. Without a URL, messages stay
in the send ledger (see ``storeflow.rules.actions``).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlparse

import attrs

from storeflow.core import emails

TLS_MODES = ("auto", "starttls", "none")


@attrs.frozen
class Mail:
    sender: str
    to: str
    subject: str
    body: str
    message_id: str
    headers: dict[str, str] = attrs.field(factory=dict)
    html: str | None = None

    def envelope(self) -> tuple[str, str]:
        """(sender, recipient) for MAIL FROM / RCPT TO; raises ``emails.InvalidAddress``."""
        sender = emails.parse_sender(self.sender).envelope
        return sender, emails.envelope_address(emails.check_email(self.to))


def _header_address(address: str, display_name: str = "") -> HeaderAddress:
    local, _, domain = emails.envelope_address(address).rpartition("@")
    return HeaderAddress(display_name=display_name, username=local, domain=domain)


def build(mail: Mail) -> EmailMessage:
    """The message; raises ``emails.InvalidAddress`` for an address that is not one."""
    sender = emails.parse_sender(mail.sender)
    msg = EmailMessage()
    msg["From"] = _header_address(sender.address, sender.display_name)
    msg["To"] = _header_address(emails.check_email(mail.to))
    msg["Subject"] = " ".join(mail.subject.split())  # never a line break in a header
    msg["Date"] = formatdate(localtime=False)
    # Derived from the ledger key: a duplicate, should one ever happen, is recognisable.
    msg["Message-ID"] = mail.message_id
    for name, value in mail.headers.items():
        msg[name] = value
    msg.set_content(mail.body)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg


def deliver(client: smtplib.SMTP, mail: Mail) -> None:
    """Hand ``mail`` to a connected client, to its one envelope recipient."""
    message = build(mail)
    sender, recipient = mail.envelope()
    if not recipient.isascii() and not client.has_extn("smtputf8"):
        raise emails.InvalidAddress(
            f"the SMTP server does not offer SMTPUTF8, needed for {recipient!r}"
        )
    client.send_message(message, from_addr=sender, to_addrs=[recipient])


def send(url: str, mail: Mail, timeout: float = 30.0) -> None:
    """Send one message over a connection of its own."""
    with connect(url, timeout) as client:
        deliver(client, mail)


def tls_mode(url: str) -> str:
    """``auto`` (STARTTLS if offered; required for a login), ``starttls`` or ``none``."""
    values = parse_qs(urlparse(url).query).get("tls", ["auto"])
    mode = values[-1].lower()
    if mode not in TLS_MODES:
        raise ValueError(f"unknown tls={mode!r} in the SMTP URL; use one of {', '.join(TLS_MODES)}")
    return mode


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
            _starttls(client, tls_mode(url), login=bool(parsed.username))
        if parsed.username:
            client.login(unquote(parsed.username), unquote(parsed.password or ""))
    except BaseException:
        client.close()
        raise
    return client


def _starttls(client: smtplib.SMTP, mode: str, *, login: bool) -> None:
    client.ehlo()
    if mode == "none":
        return
    if client.has_extn("starttls"):
        client.starttls(context=ssl.create_default_context())
        client.ehlo()
    elif mode == "starttls" or login:
        raise smtplib.SMTPNotSupportedError(
            "the SMTP server does not offer STARTTLS; refusing to "
            + ("send the password in the clear" if login else "send without TLS")
            + " (use smtps://, or add ?tls=none to the URL for a relay on the same host)"
        )


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
        mail.envelope()  # an invalid address never costs (or breaks) a connection
        client = self._connection(url)
        try:
            deliver(client, mail)
        except (smtplib.SMTPRecipientsRefused, emails.InvalidAddress):
            self._local.used = time.monotonic()
            raise  # nothing was sent and the server reset the transaction: keep it
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
