"""The root URL, sign-in and sign-out, the company switch and the dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from storeflow.core import accounts, clock
from storeflow.core.commerce import events
from storeflow.core.commerce.money import to_major
from storeflow.core.emails import normalize_email
from storeflow.core.errors import RateLimited
from storeflow.core.stores import integrations
from storeflow.rules import ledger
from storeflow.web import setup
from storeflow.web.pages import charts
from storeflow.web.pages.common import (
    COMPANY_KEY,
    Viewer,
    blueprint,
    csrf_ok,
    error_page,
    render,
    safe_next,
    signed_in,
)
from storeflow.web.ratelimits import client_ip, enforce
from storeflow.web.runtime import rt

bp = blueprint("pages_home", __name__)

CHART_DAYS = 14
REVENUE_DAYS = 30


@bp.get("/")
def root() -> ResponseReturnValue:
    with rt().unit_of_work() as db:
        signed = setup._current_user(db) is not None
    return redirect(url_for("pages_home.dashboard" if signed else "pages_home.signin"), 303)


def _signin_page(email: str = "", error: str | None = None, status: int = 200) -> Response:
    return render(
        "pages/signin.html",
        None,
        status,
        email=email,
        error=error,
        next=safe_next(request.values.get("next")),
    )


@bp.get("/signin")
def signin() -> ResponseReturnValue:
    with rt().unit_of_work() as db:
        if setup._current_user(db) is not None:
            return redirect(safe_next(request.args.get("next")), 303)
    return _signin_page()


@bp.post("/signin")
def signin_post() -> ResponseReturnValue:
    email = request.form.get("email", "").strip()[:320]
    if not csrf_ok():
        return _signin_page(email, "This form expired. Try again.", 400)
    try:
        enforce(setup.LOGIN_PER_ADDRESS, client_ip(), "too many sign-in attempts")
        enforce(setup.LOGIN_PER_EMAIL, normalize_email(email), "too many sign-in attempts")
    except RateLimited as exc:
        page = _signin_page(email, "Too many sign-in attempts. Wait a few minutes.", 429)
        page.headers.update(exc.headers)
        return page
    with rt().unit_of_work() as db:
        user = accounts.check_password(db, email, request.form.get("password", ""))
        if user is None:
            return _signin_page(email, "Wrong email or password.", 401)
        setup._start_session(user)
    return redirect(safe_next(request.form.get("next")), 303)


@bp.post("/signout")
def signout() -> ResponseReturnValue:
    if not csrf_ok():
        return error_page(400, "This form expired. Reload the page and try again.")
    with rt().unit_of_work() as db:
        user = setup._current_user(db)
        if user is not None:
            accounts.end_sessions(db, user)  # everywhere, like the connect page's sign-out
    session.clear()
    return redirect(url_for("pages_home.signin"), 303)


@bp.post("/company")
@signed_in
def switch_company(viewer: Viewer) -> ResponseReturnValue:
    wanted = request.form.get("company", "")
    for company, _role in viewer.companies:
        if str(company.id) == wanted:
            session[COMPANY_KEY] = company.id
            break
    return redirect(url_for("pages_home.dashboard"), 303)


@bp.get("/dashboard")
@signed_in
def dashboard(viewer: Viewer) -> ResponseReturnValue:
    now = clock.now()
    days = charts.days_ending(now.date(), CHART_DAYS)
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=CHART_DAYS - 1)
    company_id = viewer.company.id
    revenue = ledger.attributed_revenue(viewer.db, company_id, now - timedelta(days=REVENUE_DAYS))
    stores = integrations.listing(viewer.db, company_id=company_id)
    return render(
        "pages/dashboard.html",
        viewer,
        events_chart=charts.bars(events.daily_counts(viewer.db, company_id, since), days),
        sends_chart=charts.bars(ledger.daily_sent(viewer.db, company_id, since), days),
        revenue=_money(revenue),
        revenue_days=REVENUE_DAYS,
        window_days=ledger.ATTRIBUTION_WINDOW.days,
        attention=[row for row in stores if row.status == "connected" and row.health != "healthy"],
        store_count=len(stores),
    )


def _money(totals: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"currency": currency, "amount": f"{to_major(minor, currency):,}"}
        for currency, minor in sorted(totals.items())
    ]
