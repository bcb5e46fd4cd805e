"""The merchant's approval page: ``/setup/woocommerce?request=<connectRequestId>``.

Server-rendered (Jinja, autoescaped). The merchant signs in (argon2 passwords from
``storeflow users create``), picks a company where they are owner or admin, and
approves or denies the store's connect request. Members see their companies but
are refused with a message that says why.

Security: the session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure on
https deployments) holding the user id and a CSRF token, which every POST must
echo (login included, against login CSRF). Signing in starts a fresh session
(no fixation). Sign-in attempts are rate limited per address and per email. The
pages forbid framing (an approval button is a clickjacking target), send no
referrer (the URL names the request) and are never cached.

A session ends ``STOREFLOW_SESSION_MAX_AGE_SECONDS`` after sign-in (12 hours by
default), however busy it is, and at once everywhere when the user signs out or
gets a new password: the cookie carries the user's session version
(``users.session_version``), which both increment.

Approving and denying both need an owner or admin of the company chosen on the
page; a store another company already holds can only be denied by that company.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

from flask import (
    Blueprint,
    Response,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from storeflow.core import accounts, clock
from storeflow.core.emails import normalize_email
from storeflow.core.errors import Conflict, NotFound, RateLimited
from storeflow.core.ratelimit import Limit
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Company, ConnectRequest, User
from storeflow.core.stores import connections
from storeflow.web.ratelimits import client_ip, enforce
from storeflow.web.runtime import rt

bp = Blueprint("setup", __name__, url_prefix="/setup")

LOGIN_PER_ADDRESS = Limit("login-ip", count=30, seconds=900)
LOGIN_PER_EMAIL = Limit("login-email", count=10, seconds=900)
APPROVER_ROLES = ("owner", "admin")


# --- session and CSRF -----------------------------------------------------------------


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    return bool(sent and expected) and hmac.compare_digest(sent, expected)


def _current_user(db: Session) -> User | None:
    """The signed-in user, or None (and the session forgotten) when it has ended."""
    user_id, version, signed_in = session.get("uid"), session.get("sv"), session.get("at")
    if not isinstance(user_id, int):
        return None
    user = accounts.user_by_id(db, user_id)
    fresh = (
        isinstance(signed_in, int | float)
        and 0 <= clock.now().timestamp() - signed_in < rt().settings.session_max_age_seconds
    )
    if user is None or not fresh or version != user.session_version:
        session.clear()
        return None
    return user


def _start_session(user: User) -> None:
    session.clear()  # a new session on sign-in: no fixation, a fresh CSRF token
    session.permanent = True  # the cookie expires too (PERMANENT_SESSION_LIFETIME)
    session["uid"] = user.id
    session["sv"] = user.session_version
    session["at"] = int(clock.now().timestamp())
    csrf_token()


@bp.after_request
def _security_headers(response: Response) -> Response:
    nonce = getattr(request, "_csp_nonce", None) or ""
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; "
        f"style-src 'nonce-{nonce}'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _render(template: str, status: int = 200, **context: Any) -> Response:
    nonce = secrets.token_urlsafe(16)
    request._csp_nonce = nonce  # type: ignore[attr-defined]
    html = render_template(template, csrf_token=csrf_token(), csp_nonce=nonce, **context)
    return make_response(html, status)


def _message(title: str, text: str, status: int, **context: Any) -> Response:
    return _render("setup/message.html", status, title=title, text=text, **context)


# --- pages ----------------------------------------------------------------------------


def _load_request(db: Session, request_id: str) -> ConnectRequest | Response:
    if not request_id:
        return _message(
            "Missing connect request",
            "This link does not name a connect request. Start again from WordPress: "
            "WooCommerce → Sequenzy → Connect.",
            400,
        )
    try:
        return connections.get(db, request_id)
    except NotFound:
        return _message(
            "Unknown connect request",
            "This connect request does not exist. Start again from WordPress.",
            404,
        )


def _closed(req: ConnectRequest) -> Response | None:
    """A page for a request that can no longer be decided, or ``None`` when it can."""
    status = connections.status_of(req)
    if status == "pending":
        return None
    if status == "expired":
        return _message(
            "Connect request expired",
            "This connect request expired (they last 15 minutes). "
            "Click Connect in WordPress again.",
            409,
        )
    word = "denied" if status == "denied" else "approved"
    return _message(
        f"Already {word}",
        f"This connect request was already {word}. You can close this page.",
        409,
    )


@bp.get("/woocommerce")
def woocommerce() -> Response:
    request_id = request.args.get("request", "")
    with rt().unit_of_work() as db:
        found = _load_request(db, request_id)
        if isinstance(found, Response):
            return found
        closed = _closed(found)
        if closed is not None:
            return closed
        user = _current_user(db)
        if user is None:
            return _render("setup/login.html", request_id=request_id, email="", error=None)
        return _choose(db, found, user)


def _choose(
    db: Session, req: ConnectRequest, user: User, error: str | None = None, status: int = 200
) -> Response:
    companies = accounts.memberships(db, user.id)
    return _render(
        "setup/connect.html",
        status,
        req=req,
        user=user,
        companies=companies,
        can_approve=any(role in APPROVER_ROLES for _, role in companies),
        approver_roles=APPROVER_ROLES,
        error=error,
    )


@bp.post("/login")
def login() -> ResponseReturnValue:
    request_id = request.form.get("request", "")
    email = request.form.get("email", "").strip()
    if not _csrf_ok():
        return _csrf_failed(request_id)
    try:
        enforce(LOGIN_PER_ADDRESS, client_ip(), "too many sign-in attempts")
        enforce(LOGIN_PER_EMAIL, normalize_email(email), "too many sign-in attempts")
    except RateLimited as exc:
        page = _render(
            "setup/login.html",
            429,
            request_id=request_id,
            email=email,
            error="Too many sign-in attempts. Wait a few minutes and try again.",
        )
        page.headers.update(exc.headers)
        return page
    with rt().unit_of_work() as db:
        user = accounts.check_password(db, email, request.form.get("password", ""))
        if user is None:
            return _render(
                "setup/login.html",
                401,
                request_id=request_id,
                email=email,
                error="Wrong email or password.",
            )
        _start_session(user)
    return redirect(url_for("setup.woocommerce", request=request_id), 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    request_id = request.form.get("request", "")
    if not _csrf_ok():
        return _csrf_failed(request_id)
    with rt().unit_of_work() as db:
        user = _current_user(db)
        if user is not None:
            # Signing out ends this user's sessions everywhere, copies of this cookie too.
            accounts.end_sessions(db, user)
    session.clear()
    return redirect(url_for("setup.woocommerce", request=request_id), 303)


def _csrf_failed(request_id: str) -> Response:
    return _message(
        "Form expired",
        "This form expired or was not sent from this page. Go back, reload, and try again.",
        400,
        retry_url=url_for("setup.woocommerce", request=request_id) if request_id else None,
    )


@bp.post("/woocommerce")
def decide() -> Response:
    request_id = request.form.get("request", "")
    if not _csrf_ok():
        return _csrf_failed(request_id)
    with rt().unit_of_work() as db:
        user = _current_user(db)
        if user is None:
            return _message(
                "Signed out",
                "Your session ended. Sign in again to approve this store.",
                401,
                retry_url=url_for("setup.woocommerce", request=request_id),
            )
        found = _load_request(db, request_id)
        if isinstance(found, Response):
            return found
        closed = _closed(found)
        if closed is not None:
            return closed
        decision = request.form.get("decision", "")
        if decision not in ("approve", "deny"):
            return _choose(db, found, user, "Choose Approve or Deny.", 400)
        company_id = request.form.get("company", "")
        role, company = _role_in(db, user, company_id)
        if company is None:
            return _choose(db, found, user, "You are not a member of that company.", 403)
        if role not in APPROVER_ROLES:
            verb = "connect" if decision == "approve" else "turn away"
            return _choose(
                db,
                found,
                user,
                f"Only an owner or admin of {company.name} can {verb} a store; your role "
                f"there is {role}. Ask an owner to decide, or to make you an admin.",
                403,
            )
        if decision == "deny":
            return _deny(db, found, user, company)
        try:
            integration = connections.approve(
                db, found.id, company, decided_by=f"user:{user.email}"
            )
        except Conflict as exc:
            return _message("Cannot approve", exc.message, 409)
        return _render(
            "setup/approved.html",
            req=found,
            company=company,
            integration_id=integration.id,
        )


def _deny(db: Session, req: ConnectRequest, user: User, company: Company) -> Response:
    try:
        connections.deny(db, req.id, company, decided_by=f"user:{user.email}")
    except Conflict as exc:
        return _message("Cannot deny", exc.message, 409)
    except NotFound:
        return _choose(
            db,
            req,
            user,
            f"{req.store_url} is connected to another company; only that company can "
            f"turn it away. Choose Approve to connect it to {company.name} as well.",
            403,
        )
    return _message(
        "Connection denied",
        f"{req.store_url} was not connected. You can close this page; "
        "WordPress will show that the request was denied.",
        200,
    )


# ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
_COMPANY_ID = re.compile(r"[0-9]{1,18}")


def _role_in(db: Session, user: User, company_id: str) -> tuple[str | None, Company | None]:
    if not _COMPANY_ID.fullmatch(company_id):
        return None, None
    found = accounts.role_in(db, user.id, int(company_id))
    return found if found else (None, None)
