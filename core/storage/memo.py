"""Answers remembered for the rest of one transaction.

A worker applies many deliveries in one transaction, and event consumers ask the same
question for each of them ("has this company any replenishment settings enabled?").
The answer cannot change under the transaction except by its own writes, so it is
computed once; a function that writes what the answer depends on calls :func:`forget`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")

_MEMO = "storeflow.memo"


def per_transaction(session: Session, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
    """``compute()``, or what it returned earlier in this transaction for ``key``."""
    memo: dict[tuple[Hashable, ...], tuple[object, Any]] = session.info.setdefault(_MEMO, {})
    transaction = session.get_transaction()
    remembered = memo.get(key)
    if remembered is not None and remembered[0] is transaction:
        value: T = remembered[1]
        return value
    value = compute()
    memo[key] = (transaction, value)
    return value


def forget(session: Session, topic: Hashable) -> None:
    """Drop the remembered answers whose key starts with ``topic``."""
    memo: dict[tuple[Hashable, ...], Any] = session.info.get(_MEMO, {})
    for key in [key for key in memo if key and key[0] == topic]:
        del memo[key]
