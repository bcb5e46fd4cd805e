"""Issue 16, finding 7: email done properly, against a real SMTP server (aiosmtpd).

Explicit envelope recipients, IDNA domains, TLS required for a login, multipart
text + HTML, one validated ``from``, money in templates, and suppression of an
address a server refuses for good.
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from typing import Any

import attrs
import pytest
from sqlalchemy import select

from storeflow.core.emails import InvalidAddress
from storeflow.core.storage.tables import Suppression
from storeflow.core.transport import mailer
from tests.conftest import free_port
from tests.rulekit import ORDER, advance, define, emit, ledger, runs, sequence, subscriber


class Recorder:
    """An SMTP handler that keeps each envelope and refuses what it is told to."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[str, list[str], Any]] = []
        self.refuse: dict[str, str] = {}
        self.logins: list[bytes] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = message_from_bytes(envelope.content, policy=default)
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"shop",
            b"s3cret",
        )
        if ok:
            self.logins.append(auth_data.login)
        return AuthResult(success=ok)


@attrs.define
class Server:
    url: str
    recorder: Recorder


@pytest.fixture
def server() -> Iterator[Server]:
    """No STARTTLS, AUTH offered in the clear: what a misconfigured relay looks like."""
    from aiosmtpd.controller import Controller

    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=recorder.authenticate,
        auth_require_tls=False,
        enable_SMTPUTF8=True,
    )
    controller.start()
    try:
        yield Server(f"smtp://127.0.0.1:{port}", recorder)
    finally:
        controller.stop()


@pytest.fixture
def rt_mail(rt, server):
    rt.settings = attrs.evolve(rt.settings, smtp_url=server.url)
    return rt


def mail(to: str = "ana@example.com", **extra: Any) -> mailer.Mail:
    values = {"sender": "Acme <shop@acme.example>", "subject": "Hi", "body": "Hello"}
    return mailer.Mail(to=to, message_id="<m1@storeflow>", **{**values, **extra})


# --- envelope, addresses, TLS ----------------------------------------------------------------


def test_the_envelope_names_exactly_the_validated_recipient(server):
    mailer.send(server.url, mail("ana@example.com"))
    ((sender, recipients, message),) = server.recorder.received
    assert (sender, recipients) == ("shop@acme.example", ["ana@example.com"])
    assert message["To"] == "ana@example.com" and message["From"] == "Acme <shop@acme.example>"


@pytest.mark.parametrize("to", ["a,b@example.com", "a@example.com, b@example.com", "x"])
def test_an_address_list_is_never_sent_to(server, to):
    with pytest.raises(InvalidAddress):
        mailer.send(server.url, mail(to))
    assert server.recorder.received == []


def test_an_international_domain_goes_out_as_punycode(server):
    mailer.send(server.url, mail("ana@bücher.de"))
    ((_, recipients, message),) = server.recorder.received
    assert recipients == ["ana@xn--bcher-kva.de"]
    assert message["To"] == "ana@xn--bcher-kva.de"


def test_a_login_is_never_sent_in_the_clear(server):
    host = server.url.removeprefix("smtp://")
    with pytest.raises(smtplib.SMTPNotSupportedError, match="STARTTLS"):
        mailer.send(f"smtp://shop:s3cret@{host}", mail())
    assert server.recorder.logins == [] and server.recorder.received == []
    mailer.send(f"smtp://shop:s3cret@{host}?tls=none", mail())  # the URL says so
    assert server.recorder.logins == [b"shop"] and len(server.recorder.received) == 1


def test_tls_can_be_required_without_a_login(server):
    with pytest.raises(smtplib.SMTPNotSupportedError, match="STARTTLS"):
        mailer.send(f"{server.url}?tls=starttls", mail())
    with pytest.raises(ValueError, match="unknown tls"):
        mailer.send(f"{server.url}?tls=maybe", mail())


def test_a_refused_recipient_keeps_the_thread_s_connection(server):
    server.recorder.refuse["gone@example.com"] = "550 5.1.1 no such user"
    transport = mailer.Transport()
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            transport.send(server.url, mail("gone@example.com"))
        transport.send(server.url, mail("ana@example.com"))
        assert transport.connections_opened == 1
    finally:
        transport.close()
    assert [r[1] for r in server.recorder.received] == [["ana@example.com"]]


# --- the email step ----------------------------------------------------------------------------

HTML = "<html><body><p>Hi {{ subscriber.firstName }}, {{ order.total|money }}</p></body></html>"


def test_an_email_step_sends_text_and_html_with_money(rt_mail, tenant, server):
    step = {
        "subject": "Order {{ event.orderNumber }}\nconfirmed",
        "body": "Total {{ order.total|money }}",
        "html": HTML,
        "from": "Acme Shop <shop@acme.example>",
    }
    define(rt_mail, tenant.company_id, sequence("s", steps=[{"email": step}]))
    props = {"orderNumber": "1001", "totalCents": 4780, "currency": "EUR"}
    emit(rt_mail, tenant.company_id, ORDER, "Ana@BÜCHER.de", properties=props)
    ((sender, recipients, message),) = server.recorder.received
    assert (sender, recipients) == ("shop@acme.example", ["ana@xn--bcher-kva.de"])
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.startswith("Total 47.80 EUR\r\n") and "Unsubscribe: http" in text
    assert "Hi Ana, 47.80 EUR</p>" in html
    assert html.index(">Unsubscribe</a>") < html.index("</body>")
    assert message["Subject"] == "Order 1001 confirmed"  # never a line break in a header
    (row,) = ledger(rt_mail, tenant.company_id)
    assert row.status == "sent" and row.subject == "Order 1001 confirmed"
    assert row.email == "ana@bücher.de" and row.body.startswith("Total 47.80 EUR")


@pytest.mark.parametrize(
    "sender", ["a@example.com, b@example.com", "shop@example.com\r\nBcc: x@example.com", "shop"]
)
def test_from_must_be_one_valid_address(client, tenant, sender):
    step = {"email": {"subject": "Hi", "body": "b", "from": sender}}
    response = client.post("/api/sequences", json=sequence("s", steps=[step]), headers=tenant.auth)
    assert response.status_code == 422
    (detail,) = response.get_json()["error"]["details"]
    assert detail["path"] == "$.steps[0].email.from"
    assert "not one valid email address" in detail["message"]


def test_a_permanent_refusal_suppresses_the_address(rt_mail, tenant, server):
    server.recorder.refuse["gone@example.com"] = "550 5.1.1 <gone@example.com>: no such user"
    email = {"email": {"subject": "Hi", "body": "b"}}
    define(
        rt_mail, tenant.company_id, sequence("now", steps=[email, {"delay": {"days": 1}}, email])
    )
    later = sequence("later", steps=[{"delay": {"hours": 1}}, email])
    define(rt_mail, tenant.company_id, later)
    emit(rt_mail, tenant.company_id, ORDER, "gone@example.com")
    rows = {(row.sequence_id, row.step): row for row in ledger(rt_mail, tenant.company_id)}
    failed, skipped = sorted(rows.values(), key=lambda row: row.status)
    assert failed.status == "failed" and "550 5.1.1" in failed.reason
    assert skipped.status == "skipped"  # the other run's email, due in an hour
    assert skipped.reason.startswith("stopped: subscriber suppressed: ")
    assert "550 5.1.1 <gone@example.com>: no such user" in skipped.reason
    assert subscriber(rt_mail, tenant.company_id, "gone@example.com").status == "suppressed"
    assert {run.status for run in runs(rt_mail, tenant.company_id)} == {"stopped"}
    with rt_mail.unit_of_work() as session:
        (row,) = session.scalars(select(Suppression))
        assert row.email == "gone@example.com" and "no such user" in row.reason
    emit(rt_mail, tenant.company_id, ORDER, "gone@example.com")  # later sends skip it
    advance(rt_mail, days=2)
    later_rows = [row for row in ledger(rt_mail, tenant.company_id) if row.step == 0][1:]
    assert [row.status for row in later_rows] == ["skipped"]
    assert later_rows[0].reason.startswith("stopped: subscriber suppressed: ")
    assert "550 5.1.1 <gone@example.com>: no such user" in later_rows[0].reason
    assert server.recorder.received == []


def test_a_temporary_refusal_is_retried_without_suppressing(rt_mail, tenant, server):
    server.recorder.refuse["busy@example.com"] = "450 4.2.1 mailbox busy"
    define(
        rt_mail, tenant.company_id, sequence("s", steps=[{"email": {"subject": "Hi", "body": "b"}}])
    )
    emit(rt_mail, tenant.company_id, ORDER, "busy@example.com")
    (row,) = ledger(rt_mail, tenant.company_id)
    assert row.status == "queued" and "450 4.2.1 mailbox busy" in row.reason
    assert subscriber(rt_mail, tenant.company_id, "busy@example.com").status == "active"
    del server.recorder.refuse["busy@example.com"]
    advance(rt_mail, minutes=2)
    assert ledger(rt_mail, tenant.company_id)[0].status == "sent"
