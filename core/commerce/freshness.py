"""Which of two versions of a store object wins: the source's modified time decides.

Stores deliver the same object many times (webhooks, coalesced re-sends, sync
batches, replays) and in any order, so every upsert compares the incoming
record's ``modified_at`` (WooCommerce ``date_modified_gmt``) with the stored one:

- older        -> ``stale``: nothing is written, the caller counts it as skipped;
- same time, same fingerprint -> ``unchanged``: nothing is written either;
- newer        -> ``newer``: the record is applied.

Two versions with the *same* time but different content happen (WooCommerce
dates have one-second resolution). Last-arrival-wins would make the final state
depend on delivery order, so the tie is broken by the fingerprint instead: the
greater one wins. That choice is arbitrary but deterministic, which is what lets
every delivery order converge on the same state. A record without a time is
older than any record with one.

Deletions (``{"id": N}``) carry no time. They are kept apart from the versions:
the row remembers when the deletion was received (``deleted_at``) and is deleted
as long as its winning version was modified before that. A late, older payload
therefore still cannot resurrect it, a ``*.restored`` payload modified after the
deletion does, and the outcome does not depend on whether the deletion arrived
before or after the payloads (see :func:`is_deleted`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

Verdict = Literal["newer", "unchanged", "stale"]
# What applying a record did: a ``newer`` one is written (``upserted``), the others
# are counted and skipped.
Outcome = Literal["upserted", "unchanged", "stale"]


def fingerprint(record: object) -> str:
    """A stable digest of a record's content (attrs ``repr`` is deterministic)."""
    return hashlib.blake2b(repr(record).encode("utf-8"), digest_size=16).hexdigest()


def compare(
    stored_at: datetime | None,
    stored_hash: str | None,
    incoming_at: datetime | None,
    incoming_hash: str,
) -> Verdict:
    """How an incoming version relates to the stored one (``stored_hash=None``: none)."""
    if stored_hash is None and stored_at is None:
        return "newer"
    stored_key = (stored_at is not None, stored_at or datetime.min, stored_hash or "")
    incoming_key = (incoming_at is not None, incoming_at or datetime.min, incoming_hash)
    if incoming_key == stored_key:
        return "unchanged"
    return "newer" if _after(incoming_key, stored_key) else "stale"


def _after(left: tuple[bool, datetime, str], right: tuple[bool, datetime, str]) -> bool:
    # datetime.min is naive, real times are aware: compare the flag first, then times.
    if left[0] != right[0]:
        return left[0]
    if left[0] and left[1] != right[1]:
        return left[1] > right[1]
    return left[2] > right[2]


def is_deleted(modified_at: datetime | None, deleted_at: datetime | None) -> bool:
    """Whether a row whose winning version has ``modified_at`` is deleted."""
    return deleted_at is not None and (modified_at is None or modified_at <= deleted_at)
