"""Store sync batches: a page of REST objects in, upserts and progress counts out.

A store plugin pushes its catalogue, customers and order history as pages of at
most 500 WooCommerce REST objects (``POST /api/woocommerce/sync/<resource>``). Each
item goes through the provider's mapping and the same core upserts as a webhook,
but as *history*: orders update profiles and purchase history and record their
events without starting automations (``live=False``).

One bad item never fails the batch. Mapping errors are caught per item. The
records of the good items are then applied together inside one SAVEPOINT (a few
bulk statements for the whole page); if the database refuses that (a constraint,
a value too long for a column, a concurrent writer), the SAVEPOINT is rolled back
and the items are applied again one by one, each in its own SAVEPOINT, so that the
culprit is reported in ``failed`` with its index and reason and the rest land.

Progress is kept per (integration, syncRunId, resource) in ``sync_runs``. When
the last page (``isLast``) of every resource of a run has arrived, the
integration's ``last_sync_at`` is set; failed items set ``last_sync_error``, and
a run that finishes without failures clears it. The resources of a run are the
plugin command's (when ``syncRunId`` is a command id), else the body's optional
``resources``, else products, customers and orders.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, TypeGuard, get_args

import attrs
from sqlalchemy import select, text, update
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import ingest, records
from storeflow.core.commerce.freshness import Outcome
from storeflow.core.commerce.money import MoneyError
from storeflow.core.errors import NotFound, StoreflowError, ValidationFailed
from storeflow.core.storage.tables import Base, Integration, SyncRun
from storeflow.core.storage.upsert import insert_ignore
from storeflow.core.stores import integrations
from storeflow.core.stores.provider import Provider, StoreContext

log = logging.getLogger(__name__)

Resource = Literal["products", "customers", "orders"]
RESOURCES: tuple[Resource, ...] = get_args(Resource)
MAX_ITEMS = 500
ERROR_LIMIT = 2000


@attrs.frozen
class Batch:
    sync_run_id: str
    page: int
    is_last: bool
    items: list[Any]
    resources: tuple[Resource, ...] | None = None


def _problem(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def parse_batch(data: Any) -> Batch:
    """Validate ``{syncRunId, page, isLast, items, resources?}``; 422 with paths otherwise."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            "The body must be a JSON object {syncRunId, page, isLast, items}.",
            details=[_problem("$", "expected an object")],
        )
    problems = []
    run_id = data.get("syncRunId")
    if isinstance(run_id, int) and not isinstance(run_id, bool):
        run_id = str(run_id)
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > 100:
        problems.append(_problem("$.syncRunId", "expected a string of 1 to 100 characters"))
    page = data.get("page", 0)
    if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page < 2**31:
        problems.append(_problem("$.page", "expected a non-negative integer"))
    is_last = data.get("isLast", False)
    if not isinstance(is_last, bool):
        problems.append(_problem("$.isLast", "expected true or false"))
    items = data.get("items")
    if not isinstance(items, list):
        problems.append(_problem("$.items", "expected an array of WooCommerce objects"))
    elif len(items) > MAX_ITEMS:
        problems.append(
            _problem("$.items", f"at most {MAX_ITEMS} items per batch, got {len(items)}")
        )
    resources = data.get("resources")
    if resources is not None and (
        not isinstance(resources, list)
        or not resources
        or not all(is_resource(r) for r in resources)
    ):
        problems.append(
            _problem("$.resources", f"expected a non-empty subset of {list(RESOURCES)}")
        )
    # The isinstance checks repeat the ones above for the type checker.
    if problems or not isinstance(run_id, str) or not isinstance(items, list):
        raise ValidationFailed(
            f"The sync batch is not valid: {problems[0]['path']}: {problems[0]['message']}.",
            details=problems,
        )
    return Batch(
        sync_run_id=run_id.strip(),
        page=page,
        is_last=is_last,
        items=items,
        resources=tuple(r for r in resources if is_resource(r)) if resources else None,
    )


def is_resource(value: object) -> TypeGuard[Resource]:
    return value in RESOURCES


@attrs.define
class BatchResult:
    received: int = 0
    upserted: int = 0
    skipped_stale: int = 0  # older than, or identical to, what is stored
    unchanged: int = 0  # of which identical
    ignored: int = 0  # understood, nothing to apply (a checkout-draft order)
    failed: list[dict[str, Any]] = attrs.field(factory=list)
    run_finished: bool = False

    @property
    def accepted(self) -> int:
        return self.received - len(self.failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "success": True,
            "accepted": self.accepted,
            "upserted": self.upserted,
            "skippedStale": self.skipped_stale,
            "unchanged": self.unchanged,
            "ignored": self.ignored,
            "failed": self.failed,
            "runFinished": self.run_finished,
        }


def _item_id(item: Any) -> str | None:
    value = item.get("id") if isinstance(item, Mapping) else None
    return None if value is None or isinstance(value, bool) else str(value)


def _failure(index: int, item: Any, code: str, message: str) -> dict[str, Any]:
    return {"index": index, "id": _item_id(item), "code": code, "message": message}


def check_resource(resource: str) -> None:
    if not is_resource(resource):
        raise NotFound(
            f"storeflow syncs {', '.join(RESOURCES)}; there is no {resource[:40]!r} resource",
            code="unknown_resource",
        )


@attrs.frozen
class Prepared:
    """A page mapped into records (no database needed), ready to be applied."""

    batch: Batch
    mapped: list[tuple[int, records.Mapped]]  # (item index, its records)
    failed: list[dict[str, Any]]
    ignored: int


def map_batch(store: StoreContext, provider: Provider, resource: str, batch: Batch) -> Prepared:
    """Map every item of a page; a bad item becomes a failure, never an exception.

    Pure CPU work: the web layer runs it before opening the write transaction.
    """
    check_resource(resource)
    mapped: list[tuple[int, records.Mapped]] = []
    failed: list[dict[str, Any]] = []
    ignored = 0
    for index, item in enumerate(batch.items):
        try:
            one = provider.map_sync_item(resource, item, store)
        except (StoreflowError, MoneyError) as exc:
            failed.append(_failure(index, item, _code(exc), _message(exc)))
            continue
        if one.ignored is not None and not one.records:
            ignored += 1
            continue
        mapped.append((index, one))
    return Prepared(batch, mapped, failed, ignored)


def apply_batch(
    session: Session, integration: Integration, provider: Provider, resource: str, batch: Batch
) -> BatchResult:
    """Map and apply one page; record progress. The caller owns the transaction."""
    prepared = map_batch(integrations.context(integration), provider, resource, batch)
    return apply_prepared(session, integration, provider.name, resource, prepared)


def apply_prepared(
    session: Session, integration: Integration, provider: str, resource: str, prepared: Prepared
) -> BatchResult:
    """Apply a mapped page as history and count it in ``sync_runs``."""
    check_resource(resource)
    batch = prepared.batch
    result = BatchResult(
        received=len(batch.items), failed=list(prepared.failed), ignored=prepared.ignored
    )
    store = integrations.context(integration)
    _apply(session, store, provider, batch, prepared.mapped, result)
    result.failed.sort(key=lambda failure: failure["index"])
    result.run_finished = record_progress(session, integration, resource, batch, result)
    return result


def _apply(
    session: Session,
    store: StoreContext,
    provider: str,
    batch: Batch,
    mapped: list[tuple[int, records.Mapped]],
    result: BatchResult,
) -> None:
    recs = [rec for _, one in mapped for rec in one.records]
    try:
        with session.begin_nested():
            outcomes, _ = ingest.apply_records(session, store, provider, recs, live=False)
    except OperationalError:
        raise  # the database is unavailable: a 503, and the plugin sends the page again
    except Exception:
        log.info("bulk apply of a sync page failed; applying its items one by one", exc_info=True)
        _apply_one_by_one(session, store, provider, batch, mapped, result)
        return
    position = 0
    for _, one in mapped:
        count = len(one.records)
        _count(result, outcomes[position : position + count])
        position += count


def _apply_one_by_one(
    session: Session,
    store: StoreContext,
    provider: str,
    batch: Batch,
    mapped: list[tuple[int, records.Mapped]],
    result: BatchResult,
) -> None:
    for index, one in mapped:
        item = batch.items[index]
        try:
            with session.begin_nested():
                outcomes, _ = ingest.apply_records(
                    session, store, provider, list(one.records), live=False
                )
        except OperationalError:
            raise
        except (StoreflowError, MoneyError) as exc:
            result.failed.append(_failure(index, item, _code(exc), _message(exc)))
            continue
        except IntegrityError as exc:
            result.failed.append(_failure(index, item, "conflict", _db_message(exc)))
            continue
        except DataError as exc:
            result.failed.append(_failure(index, item, "invalid_value", _db_message(exc)))
            continue
        except Exception:
            log.exception("sync item %s of %s failed unexpectedly", index, batch.sync_run_id)
            result.failed.append(
                _failure(
                    index, item, "internal_error", "this item could not be stored; it was logged"
                )
            )
            continue
        _count(result, outcomes)


def _count(result: BatchResult, outcomes: list[Outcome]) -> None:
    """One item's outcome: written if any of its records was, else skipped."""
    if "upserted" in outcomes or not outcomes:
        result.upserted += 1
    else:
        result.skipped_stale += 1
        if all(outcome == "unchanged" for outcome in outcomes):
            result.unchanged += 1


def _code(exc: Exception) -> str:
    return exc.code if isinstance(exc, StoreflowError) else "invalid_amount"


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, StoreflowError) else str(exc)


def _db_message(exc: Exception) -> str:
    original = getattr(exc, "orig", None) or exc
    return f"the database refused this item: {str(original).splitlines()[0][:300]}"


# --- progress -----------------------------------------------------------------------------


def record_progress(
    session: Session, integration: Integration, resource: str, batch: Batch, result: BatchResult
) -> bool:
    """Count the page in ``sync_runs``; return whether the whole run is now finished."""
    now = clock.now()
    key = (
        SyncRun.integration_id == integration.id,
        SyncRun.sync_run_id == batch.sync_run_id,
        SyncRun.resource == resource,
    )
    insert_ignore(
        session,
        SyncRun.__table__,
        {
            "company_id": integration.company_id,
            "integration_id": integration.id,
            "sync_run_id": batch.sync_run_id,
            "resource": resource,
            "pages": 0,
            "items": 0,
            "upserted": 0,
            "skipped_stale": 0,
            "ignored": 0,
            "failed": 0,
            "started_at": now,
            "updated_at": now,
        },
        ["integration_id", "sync_run_id", "resource"],
    )
    error = _error_summary(resource, batch, result)
    values: dict[str, Any] = {
        "pages": SyncRun.pages + 1,
        "last_page": batch.page,
        "items": SyncRun.items + result.received,
        "upserted": SyncRun.upserted + result.upserted,
        "skipped_stale": SyncRun.skipped_stale + result.skipped_stale,
        "ignored": SyncRun.ignored + result.ignored,
        "failed": SyncRun.failed + len(result.failed),
        "updated_at": now,
    }
    if error:
        values["last_error"] = error
    if batch.is_last:
        values["finished_at"] = now
    pages = session.execute(
        update(SyncRun)
        .where(*key)
        .values(**values)
        .returning(SyncRun.pages)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    _refresh_statistics(session, resource, pages)
    if error:
        integration.last_sync_error = error
    if not batch.is_last:
        return False
    return _finish_run(session, integration, batch, now)


# The tables each resource writes (PostgreSQL statistics are refreshed for these).
WRITES = {
    "products": ("products", "variants"),
    "customers": ("subscribers", "store_customers"),
    "orders": ("subscribers", "store_customers", "orders", "order_lines", "events"),
}


def _refresh_statistics(session: Session, resource: str, pages: int) -> None:
    """ANALYZE the tables a run fills on its 1st, 2nd, 4th, 8th ... page (PostgreSQL).

    An initial sync grows tables from nothing to millions of rows in minutes. Until
    the planner's statistics follow, it misjudges the 500-value ``IN`` lookups of a
    page as "most of the table" and scans it sequentially, which makes every page
    slower than the last. Autovacuum re-analyzes eventually (or never, where it is
    off); PostgreSQL's own advice after a bulk load is to run ANALYZE, and doing so
    at doubling page counts costs a few dozen ANALYZEs for the biggest store.
    """
    if pages & (pages - 1) or session.get_bind().dialect.name != "postgresql":
        return
    for table in WRITES[resource]:
        session.execute(text(f"ANALYZE {table}"))


def _finish_run(session: Session, integration: Integration, batch: Batch, now: datetime) -> bool:
    expected = set(_run_resources(session, integration, batch))
    rows = session.execute(
        select(SyncRun.resource, SyncRun.finished_at, SyncRun.failed).where(
            SyncRun.integration_id == integration.id, SyncRun.sync_run_id == batch.sync_run_id
        )
    ).all()
    finished = {row.resource for row in rows if row.finished_at is not None}
    if not expected <= finished:
        return False
    integration.last_sync_at = now
    if sum(row.failed for row in rows) == 0:
        integration.last_sync_error = None
    return True


def _run_resources(
    session: Session, integration: Integration, batch: Batch
) -> tuple[Resource, ...]:
    # Plugin commands are another feature's table: looked up by name, so that sync
    # works (with the default resources) in a schema without it.
    commands = Base.metadata.tables.get("plugin_commands")
    command = None
    if commands is not None:
        command = session.scalar(
            select(commands.c.resources).where(
                commands.c.id == batch.sync_run_id, commands.c.integration_id == integration.id
            )
        )
    if command:
        return tuple(name for name in command if is_resource(name))
    return batch.resources or RESOURCES


def _error_summary(resource: str, batch: Batch, result: BatchResult) -> str | None:
    if not result.failed:
        return None
    first = result.failed[0]
    text = (
        f"sync {batch.sync_run_id} {resource} page {batch.page}: {len(result.failed)} of "
        f"{result.received} item(s) failed; first: item {first['index']} (id {first['id']}) "
        f"{first['code']}: {first['message']}"
    )
    return text[:ERROR_LIMIT]


def runs(
    session: Session,
    *,
    company_id: int | None = None,
    integration_id: str | None = None,
    limit: int = 20,
) -> list[SyncRun]:
    """The latest sync runs, newest first (one row per resource)."""
    query = select(SyncRun)
    if company_id is not None:
        query = query.where(SyncRun.company_id == company_id)
    if integration_id is not None:
        query = query.where(SyncRun.integration_id == integration_id)
    return list(
        session.scalars(query.order_by(SyncRun.updated_at.desc(), SyncRun.id.desc()).limit(limit))
    )


def run_json(row: SyncRun) -> dict[str, Any]:
    return {
        "syncRunId": row.sync_run_id,
        "integrationId": row.integration_id,
        "resource": row.resource,
        "pages": row.pages,
        "lastPage": row.last_page,
        "items": row.items,
        "upserted": row.upserted,
        "skippedStale": row.skipped_stale,
        "ignored": row.ignored,
        "failed": row.failed,
        "lastError": row.last_error,
        "startedAt": row.started_at.isoformat(),
        "updatedAt": row.updated_at.isoformat(),
        "finishedAt": row.finished_at.isoformat() if row.finished_at else None,
    }
