"""Admin JSON API (company API key): read what storeflow made of the traffic.

Every query is scoped to the key's company; another company's object is a 404.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Response, request

from storeflow.core.commerce import event_lookup, events, profiles, replenishment, subscribers
from storeflow.core.commerce.waitlists import active_entries
from storeflow.core.errors import NotFound
from storeflow.core.storage.tables import Event
from storeflow.web import responses
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
        return responses.respond(responses.EventList(events=_events(rows), total=total))


@bp.get("/subscribers/<path:email>")
def get_subscriber(email: str) -> Response:
    """The profile: combined and per-store revenue attributes, purchases, recent events."""
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        sub = subscribers.get_by_email(session, company.id, email)
        recent, _ = events.recent(session, company.id, email=sub.email, limit=20)
        profile = responses.SubscriberProfile(
            subscriber=responses.Subscriber(
                id=sub.id,
                email=sub.email,
                first_name=sub.first_name,
                last_name=sub.last_name,
                status=sub.status,
                tags=sub.tags or [],
                created_at=sub.created_at.isoformat(),
            ),
            # Computed from the orders now, not read back from the stored copy
            # (which rules use), so the profile can never show a stale figure.
            attributes={**(sub.attributes or {}), **profiles.combined(session, sub.id)},
            stores=[
                responses.load(store, responses.StoreProfile)
                for store in profiles.per_store(session, sub.id)
            ],
            purchased_products=[
                responses.load(item, responses.PurchasedProduct)
                for item in profiles.purchased_products(session, sub.id)
            ],
            replenishment=[
                responses.load(item, responses.ReplenishmentReminder)
                for item in replenishment.pending_for_subscriber(session, sub.id)
            ],
            waitlists=[
                responses.WaitlistEntry(
                    provider=entry.provider,
                    provider_product_id=entry.provider_product_id,
                    provider_variant_id=entry.provider_variant_id,
                    product_title=entry.product_title,
                    variant_title=entry.variant_title,
                    status=entry.status,
                    requested_at=entry.requested_at.isoformat(),
                )
                for entry in active_entries(session, sub.id)
            ],
            recent_events=_events(recent),
        )
        return responses.respond(profile)


# /api/enrollments and /api/messages: web/sequences.py (the rules engine's blueprint).


@bp.get("/events/<int:event_id>")
def get_event(event_id: int) -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = event_lookup.get(session, company.id, event_id)
        if row is None:
            raise NotFound("no such event", code="event_not_found")
        return responses.respond(responses.EventResponse(event=_events([row])[0]))


def _events(rows: Iterable[Event]) -> list[responses.Event]:
    return [responses.load(events.to_json(row), responses.Event) for row in rows]
