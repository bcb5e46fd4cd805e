"""RFC 8058 one-click unsubscribe: POST unsubscribes and stops runs; GET never does."""

from __future__ import annotations

import attrs

from tests.rulekit import (
    ORDER,
    define,
    email_step,
    emit,
    ledger,
    runs,
    sequence,
    subscriber,
)

TWO_EMAILS = [email_step("First"), {"delay": {"days": 2}}, email_step("Second")]


def _token_from_mail(mail) -> str:
    return mail["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]


def test_get_shows_a_confirmation_and_never_unsubscribes(rt_smtp, client, tenant, smtp_server):
    define(rt_smtp, tenant.company_id, sequence("s", steps=TWO_EMAILS))
    emit(rt_smtp, tenant.company_id, ORDER)
    token = _token_from_mail(smtp_server.wait_for(1)[0])
    for _ in range(3):  # link scanners, previews, a human looking
        page = client.get(f"/unsubscribe/{token}")
        assert page.status_code == 200
        assert b'method="post"' in page.data and b"ana@example.com" in page.data
        assert "no-store" in page.headers["Cache-Control"]
    assert subscriber(rt_smtp, tenant.company_id).status == "active"
    assert runs(rt_smtp, tenant.company_id)[0].status == "active"


def test_one_click_post_unsubscribes_and_stops_running_sequences(
    rt_smtp, client, tenant, smtp_server
):
    define(rt_smtp, tenant.company_id, sequence("s", steps=TWO_EMAILS))
    emit(rt_smtp, tenant.company_id, ORDER)
    token = _token_from_mail(smtp_server.wait_for(1)[0])
    response = client.post(
        f"/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and b"unsubscribed" in response.data
    assert subscriber(rt_smtp, tenant.company_id).status == "unsubscribed"
    (run,) = runs(rt_smtp, tenant.company_id)
    assert run.status == "stopped"
    assert run.stop_reason == "subscriber unsubscribed (one-click link)"
    # Again: still fine, nothing changes.
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert [m.subject for m in ledger(rt_smtp, tenant.company_id) if m.status == "sent"] == [
        "First"
    ]


def test_an_unsubscribed_subscriber_gets_no_later_email(rt, client, tenant):
    define(rt, tenant.company_id, sequence("s", steps=[email_step("First")]))
    emit(rt, tenant.company_id, ORDER)
    token_row = ledger(rt, tenant.company_id)[0]
    assert token_row.unsubscribe_token_hash
    # The token itself is not stored; find it the way a mailbox would: from the body.
    token = token_row.body.rsplit("/unsubscribe/", 1)[1].strip()
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    emit(rt, tenant.company_id, ORDER)
    assert [m.status for m in ledger(rt, tenant.company_id)] == ["sent", "skipped"]
    assert runs(rt, tenant.company_id)[1].stop_reason == "subscriber unsubscribed"


def test_unknown_tokens_get_the_same_404_page(client, tenant):
    for token in ("nope", "x" * 43, "a" * 300):
        assert client.get(f"/unsubscribe/{token}").status_code == 404
        assert client.post(f"/unsubscribe/{token}").status_code == 404


def test_the_link_uses_the_configured_base_url(rt_smtp, tenant, smtp_server):
    rt_smtp.settings = attrs.evolve(rt_smtp.settings, base_url="https://news.shop.example")
    define(rt_smtp, tenant.company_id, sequence("s", steps=[email_step()]))
    emit(rt_smtp, tenant.company_id, ORDER)
    mail = smtp_server.wait_for(1)[0]
    assert mail["List-Unsubscribe"].startswith("<https://news.shop.example/unsubscribe/")


def test_tokens_differ_per_message(rt, tenant):
    define(rt, tenant.company_id, sequence("s", steps=[email_step()]))
    from tests.rulekit import no_cap

    no_cap(rt, tenant.company_id)
    emit(rt, tenant.company_id, ORDER)
    emit(rt, tenant.company_id, ORDER)
    first, second = ledger(rt, tenant.company_id)
    assert first.unsubscribe_token_hash != second.unsubscribe_token_hash
