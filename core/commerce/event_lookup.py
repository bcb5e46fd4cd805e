"""One stored event of a company, by id (the admin API's ``/api/events/<id>``).

Listing and appending events is ``storeflow.core.commerce.events``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core.storage.tables import Event

MAX_ROW_ID = 2**63 - 1


def get(session: Session, company_id: int, event_id: int) -> Event | None:
    """The company's event; None for another company's, or an id no row can have."""
    # Beyond a 64-bit id no row can match, and the database driver would refuse the number.
    if event_id > MAX_ROW_ID:
        return None
    return session.scalar(select(Event).where(Event.id == event_id, Event.company_id == company_id))
