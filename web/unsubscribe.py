"""One-click unsubscribe (RFC 8058), linked from every email's ``List-Unsubscribe`` header.

``/unsubscribe/<token>``: the token is opaque and unguessable (256 random bits; only
its SHA-256 is stored on the ledger row), and identifies the subscriber on its own,
without cookies or sign-in, as RFC 8058 requires.

- ``POST`` unsubscribes: mail clients send ``List-Unsubscribe=One-Click``, the
  confirmation page's button sends the same. It is idempotent, and stops every
  running enrollment of the subscriber in the same transaction.
- ``GET`` only shows the confirmation page and **never** unsubscribes: mail
  scanners and link previews fetch URLs on their own.

An unknown token gets a 404 page, the same for every token, so nothing can be
learned by guessing.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, render_template

from storeflow.core import accounts
from storeflow.core.commerce import subscribers
from storeflow.core.storage.locks import lock_subscriber
from storeflow.rules import ledger, sequences, stopping
from storeflow.web.runtime import rt

bp = Blueprint("unsubscribe", __name__)

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def _page(state: str, status: int = 200, email: str = "", company: str = "") -> Response:
    titles = {"confirm": "Unsubscribe", "done": "You are unsubscribed", "invalid": "Link not valid"}
    html = render_template(
        "unsubscribe/page.html", title=titles[state], state=state, email=email, company=company
    )
    response = make_response(html, status)
    response.headers.update(_HEADERS)
    return response


@bp.get("/unsubscribe/<token>")
def confirm(token: str) -> Response:
    with rt().unit_of_work() as session:
        message = ledger.by_unsubscribe_token(session, token)
        if message is None:
            return _page("invalid", 404)
        subscriber = subscribers.get(session, message.subscriber_id)
        company = accounts.company_by_id(session, message.company_id)
        state = "confirm" if subscriber.status == "active" else "done"
        return _page(state, email=subscriber.email, company=company.name)


@bp.post("/unsubscribe/<token>")
def one_click(token: str) -> Response:
    with rt().unit_of_work() as session:
        message = ledger.by_unsubscribe_token(session, token)
        if message is None:
            return _page("invalid", 404)
        lock_subscriber(session, message.subscriber_id)
        subscriber = subscribers.get(session, message.subscriber_id, reload=True)
        rules = sequences.company_rules(session, message.company_id)
        stopping.unsubscribe(session, subscriber, rules, "one-click link")
        company = accounts.company_by_id(session, message.company_id)
        return _page("done", email=subscriber.email, company=company.name)
