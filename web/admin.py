"""Admin JSON API (company API key): read what storeflow made of the traffic.

Every query is scoped to the key's company; another company's object is a 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select

from core import events, subscribers
from core.tables import Enrollment, Event, Message
from web.auth import company_from_api_key
from web.params import datetime_arg, int_arg
from web.runtime import rt

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
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        sub = subscribers.get_by_email(session, company.id, email)
        recent, _ = events.recent(session, company.id, email=sub.email, limit=20)
        attributes = {k: v for k, v in (sub.attributes or {}).items()}
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
                "attributes": attributes,
                "stores": [],
                "purchasedProducts": [],
                "replenishment": [],
                "waitlists": [],
                "recentEvents": [events.to_json(e) for e in recent],
            }
        )


def _enrollment_json(row: Enrollment, steps: list) -> dict:
    return {
        "id": row.id,
        "sequenceId": row.sequence_id,
        "email": row.email,
        "status": row.status,
        "stopReason": row.stop_reason,
        "enrolledAt": row.enrolled_at.isoformat(),
        "entryEvent": {"id": row.entry_event_id, "name": row.entry_event_name},
        "steps": steps,
    }


@bp.get("/enrollments")
def list_enrollments() -> Response:
    from rules import runner

    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        query = select(Enrollment).where(Enrollment.company_id == company.id)
        if request.args.get("sequence"):
            query = query.where(
                Enrollment.sequence_id
                == runner.sequence_id_arg(session, company.id, request.args["sequence"])
            )
        if request.args.get("email"):
            query = query.where(Enrollment.email == request.args["email"].strip().lower())
        if request.args.get("status"):
            query = query.where(Enrollment.status == request.args["status"])
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(Enrollment.id.desc())
            .limit(int_arg("limit", 50, low=1, high=500))
            .offset(int_arg("offset", 0, high=10**9))
        ).all()
        items = [_enrollment_json(r, runner.step_history(session, r)) for r in rows]
        return jsonify({"success": True, "enrollments": items, "total": total})


def message_json(row: Message) -> dict:
    return {
        "id": row.id,
        "enrollmentId": row.enrollment_id,
        "sequenceId": row.sequence_id,
        "step": row.step,
        "email": row.email,
        "subject": row.subject,
        "status": row.status,
        "reason": row.reason,
        "sentAt": row.sent_at.isoformat() if row.sent_at else None,
        "messageId": row.message_id,
    }


@bp.get("/messages")
def list_messages() -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        query = select(Message).where(Message.company_id == company.id)
        if request.args.get("email"):
            query = query.where(Message.email == request.args["email"].strip().lower())
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(Message.id.desc())
            .limit(int_arg("limit", 50, low=1, high=500))
            .offset(int_arg("offset", 0, high=10**9))
        ).all()
        return jsonify(
            {"success": True, "messages": [message_json(m) for m in rows], "total": total}
        )


@bp.get("/events/<int:event_id>")
def get_event(event_id: int) -> Response:
    from core.errors import NotFound

    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = session.scalar(
            select(Event).where(Event.id == event_id, Event.company_id == company.id)
        )
        if row is None:
            raise NotFound("no such event", code="event_not_found")
        return jsonify({"success": True, "event": events.to_json(row)})
