"""Engine and session factory. Callers (a request, a task) own the unit of work.

SQLite runs in WAL mode with a busy timeout so that web workers and consumers can
share one file; PostgreSQL is used as is.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Engine, UpdateBase, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own BEGIN handling defers the write lock, which turns concurrent
        # read-then-write transactions into "database is locked" errors; take the
        # lock up front instead (BEGIN IMMEDIATE) so writers queue on busy_timeout.
        # A read-only unit of work (``READ_ONLY``) begins deferred: it takes no write lock,
        # so a request that only looks something up never waits behind a worker's batch.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


READ_ONLY = "storeflow_read_only"


# How long a writer waits for SQLite's write lock before "database is locked".
WRITE_LOCK_TIMEOUT = 30.0


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(READ_ONLY, False):
        conn.exec_driver_sql("BEGIN")
        return
    # SQLite's own busy handler sleeps up to 100 ms between tries, so a waiting request
    # can miss every short gap between a worker's batches. Poll for the lock instead,
    # every half millisecond: a worker that pauses after each commit lets it in at once.
    deadline = time.monotonic() + WRITE_LOCK_TIMEOUT
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)
    finally:
        conn.exec_driver_sql("PRAGMA busy_timeout=30000")


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB instead of 2 MiB: big catalogues
    cur.close()


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for units of work that only read (no write lock on SQLite)."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def rows_changed(session: Session, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE and return how many rows it matched.

    ``Session.execute`` is typed as returning any ``Result``; for these statements it
    is the ``CursorResult`` that knows the count.
    """
    return cast("CursorResult[Any]", session.execute(statement)).rowcount


def is_sqlite(session_or_engine: Session | Engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "sqlite"
