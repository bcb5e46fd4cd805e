"""Admin JSON API (company API key): read what storeflow made of the traffic.

Every query is scoped to the key's company; another company's object is a 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from storeflow.core.commerce import events, profiles, subscribers
from storeflow.core.storage.tables import Event
from storeflow.web.auth import company_from_api_key
from storeflow.web.params import datetime_arg, int_arg
from storeflow.web.runtime import rt

bp = Blueprint("admin", __name__, url_prefix="/api")


@bp.get("/events")
def list_events() -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        rows, total = events.recent(
            session,
            company.id,
            name=request.args.get("name") or None,
            email=request.args.get("email") or None,
            since=datetime_arg("since"),
            limit=int_arg("limit", 50, low=1, high=500),
            offset=int_arg("offset", 0, high=10**9),
        )
        return jsonify(
            {"success": True, "events": [events.to_json(e) for e in rows], "total": total}
        )


@bp.get("/subscribers/<path:email>")
def get_subscriber(email: str) -> Response:
    """The profile: combined and per-store revenue attributes, purchases, recent events."""
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        sub = subscribers.get_by_email(session, company.id, email)
        recent, _ = events.recent(session, company.id, email=sub.email, limit=20)
        return jsonify(
            {
                "success": True,
                "subscriber": {
                    "id": sub.id,
                    "email": sub.email,
                    "firstName": sub.first_name,
                    "lastName": sub.last_name,
                    "status": sub.status,
                    "tags": sub.tags or [],
                    "createdAt": sub.created_at.isoformat(),
                },
                # Computed from the orders now, not read back from the stored copy
                # (which rules use), so the profile can never show a stale figure.
                "attributes": {**(sub.attributes or {}), **profiles.combined(session, sub.id)},
                "stores": profiles.per_store(session, sub.id),
                "purchasedProducts": profiles.purchased_products(session, sub.id),
                # Filled by the replenishment and back-in-stock features once they exist.
                "replenishment": [],
                "waitlists": [],
                "recentEvents": [events.to_json(e) for e in recent],
            }
        )


# /api/enrollments and /api/messages: web/sequences.py (the rules engine's blueprint).


@bp.get("/events/<int:event_id>")
def get_event(event_id: int) -> Response:
    from storeflow.core.errors import NotFound

    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = session.scalar(
            select(Event).where(Event.id == event_id, Event.company_id == company.id)
        )
        if row is None:
            raise NotFound("no such event", code="event_not_found")
        return jsonify({"success": True, "event": events.to_json(row)})
