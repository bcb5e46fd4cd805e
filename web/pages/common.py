"""What every admin page shares: the signed-in user and company, CSRF, rendering, errors.

Sign-in is the same session the connect page uses (``storeflow.web.setup``): the
signed cookie holds the user id, the user's session version and a CSRF token that
every form echoes. The company a page shows is the one chosen in the session, and
only while the user is still a member of it; every object a page names is looked up
within that company, so another company's integration, product, subscriber or
sequence is a 404 page, as if it did not exist.

Pages load no script (nothing to vendor, nothing to break on a phone): actions are
plain forms that redirect back (POST, then GET) with a one-line notice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import attrs
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    get_flashed_messages,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from storeflow.core import accounts
from storeflow.core.errors import NotFound, StoreflowError
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Company, User
from storeflow.web import setup
from storeflow.web.runtime import rt

MANAGER_ROLES = ("owner", "admin")
PAGE_SIZE = 25
COMPANY_KEY = "company"


@attrs.frozen
class Viewer:
    """Who looks at the page, in which company, with which role."""

    db: Session
    user: User
    company: Company
    role: str
    companies: list[tuple[Company, str]]

    @property
    def manages(self) -> bool:
        return self.role in MANAGER_ROLES


def blueprint(name: str, import_name: str, url_prefix: str | None = None) -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix=url_prefix, template_folder="templates")
    bp.after_request(security_headers)
    bp.register_error_handler(StoreflowError, _storeflow_error)
    bp.register_error_handler(HTTPException, _http_error)
    return bp


def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict"}


def error_page(status: int, text: str) -> Response:
    title = _TITLES.get(status, "Something went wrong")
    html = render_template("pages/error.html", title=title, text=text, status=status, **_chrome())
    return make_response(html, status)


def _storeflow_error(exc: StoreflowError) -> Response:
    if isinstance(exc, NotFound):
        return error_page(404, "There is nothing here, or it belongs to another company.")
    return error_page(exc.status, exc.message)


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    if code == 404:
        return error_page(404, "There is nothing here, or it belongs to another company.")
    return error_page(code, exc.description or exc.name)


def _chrome() -> dict[str, Any]:
    """What the layout needs when a page renders outside ``signed_in`` (errors)."""
    return {"csrf_token": setup.csrf_token(), "viewer": None, "notices": []}


def render(template: str, viewer: Viewer | None, status: int = 200, **context: Any) -> Response:
    html = render_template(
        template,
        viewer=viewer,
        csrf_token=setup.csrf_token(),
        notices=get_flashed_messages(with_categories=True),
        **context,
    )
    return make_response(html, status)


def csrf_ok() -> bool:
    return setup._csrf_ok()


def _choose_company(
    db: Session, user: User
) -> tuple[list[tuple[Company, str]], tuple[str, Company] | None]:
    companies = accounts.memberships(db, user.id)
    wanted = session.get(COMPANY_KEY)
    for company, role in companies:
        if company.id == wanted:
            return companies, (role, company)
    if companies:
        company, role = companies[0]
        session[COMPANY_KEY] = company.id
        return companies, (role, company)
    return companies, None


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``view(viewer, ...)`` in a unit of work for a signed-in member; else sign in.

    A POST must carry the session's CSRF token (checked before anything is read).
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method == "POST" and not csrf_ok():
            return error_page(
                400, "This form expired or was not sent from this page. Reload it and try again."
            )
        with rt().unit_of_work() as db:
            user = setup._current_user(db)
            if user is None:
                return redirect(url_for("pages_home.signin", next=_local_path()), 303)
            companies, found = _choose_company(db, user)
            if found is None:
                return render("pages/no_company.html", None, 403, user=user)
            role, company = found
            return view(Viewer(db, user, company, role, companies), *args, **kwargs)

    return wrapper


def manager(viewer: Viewer) -> None:
    """Changes are for owners and admins; members look."""
    if not viewer.manages:
        abort(
            403,
            f"Only an owner or admin of {viewer.company.name} can do this; your role is {viewer.role}.",
        )


def _local_path() -> str:
    return request.full_path.rstrip("?") if request.method == "GET" else "/"


def safe_next(value: str | None) -> str:
    """A same-site path to return to after sign-in (never another host)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return url_for("pages_home.dashboard")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value:
        return url_for("pages_home.dashboard")
    return value


def notice(text: str, category: str = "ok") -> None:
    flash(text, category)


def back(endpoint: str, **values: Any) -> ResponseReturnValue:
    return redirect(url_for(endpoint, **values), 303)


def page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


def search_arg() -> str:
    return (request.args.get("q") or "").strip()[:200]
