"""Subscribers: search, and the profile (revenue per store and combined, purchases,
reminders, waitlists, events, enrollments with their steps, messages)."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from storeflow.core.commerce import events, profiles, replenishment, subscribers, waitlists
from storeflow.rules import enrollments, ledger, sequences
from storeflow.web.pages.common import (
    PAGE_SIZE,
    Viewer,
    blueprint,
    page_arg,
    render,
    search_arg,
    signed_in,
)

bp = blueprint("pages_subscribers", __name__, url_prefix="/subscribers")

PROFILE_ROWS = 50


@bp.get("")
@signed_in
def index(viewer: Viewer) -> ResponseReturnValue:
    query, page = search_arg(), page_arg()
    rows, total = subscribers.search(
        viewer.db, viewer.company.id, query or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        "pages/subscribers.html",
        viewer,
        rows=rows,
        total=total,
        q=query,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@bp.get("/<int:subscriber_id>")
@signed_in
def profile(viewer: Viewer, subscriber_id: int) -> ResponseReturnValue:
    db = viewer.db
    company_id = viewer.company.id
    sub = subscribers.of_company(db, company_id, subscriber_id)
    recent, event_total = events.recent(db, company_id, email=sub.email, limit=PROFILE_ROWS)
    runs, _ = enrollments.page(db, company_id, email=sub.email, limit=PROFILE_ROWS, offset=0)
    history = enrollments.step_history(db, [run.id for run in runs])
    mails, _ = ledger.page(db, company_id, email=sub.email, limit=PROFILE_ROWS, offset=0)
    slugs = sequences.slugs(db, {run.sequence_id for run in runs} | {m.sequence_id for m in mails})
    return render(
        "pages/subscriber.html",
        viewer,
        sub=sub,
        combined={**(sub.attributes or {}), **profiles.combined(db, sub.id)},
        stores=profiles.per_store(db, sub.id),
        purchased=profiles.purchased_products(db, sub.id),
        reminders=replenishment.pending_for_subscriber(db, sub.id),
        waitlist=waitlists.active_entries(db, sub.id),
        events=[events.to_json(row) for row in recent],
        event_total=event_total,
        runs=[
            enrollments.to_json(run, slugs.get(run.sequence_id), history[run.id]) for run in runs
        ],
        messages=[ledger.to_json(m, slugs.get(m.sequence_id)) for m in mails],
    )
