"""One page of a query plus the total it was cut from (every admin list answers both)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnExpressionArgument, Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


def page(
    session: Session,
    query: Select[T],
    *order_by: ColumnExpressionArgument[Any],
    limit: int,
    offset: int,
) -> tuple[list[T], int]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order_by).limit(limit).offset(offset))
    return list(rows), total
