"""One line with a hint for what an operator can fix: no database, no schema, no Redis,
a setting that cannot work.

``storeflow.web.cli`` asks :func:`explain` about any exception a command raises; what
it recognises is printed as one line (``--traceback`` shows the whole story), the rest
keeps its traceback (a bug should look like one).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

from storeflow.core import config
from storeflow.core.storage.migrate import display_url

UPGRADE = "run `storeflow db upgrade`"


def explain(exc: BaseException) -> str | None:
    if isinstance(exc, config.ConfigError):
        return str(exc)
    if isinstance(exc, DBAPIError):
        return _database(exc)
    if isinstance(exc, sqlite3.OperationalError):  # SqliteHuey's queue file
        return f"the queue file cannot be used: {_first_line(exc)} (check STOREFLOW_VAR_DIR)"
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeout
    except ImportError:  # pragma: no cover - redis is a dependency
        return None
    if isinstance(exc, RedisConnectionError | RedisTimeout):
        return (
            f"cannot reach Redis at {_redis_url()}: {_first_line(exc)} "
            "(is it running? check STOREFLOW_REDIS_URL)"
        )
    return None


def _database(exc: DBAPIError) -> str:
    url = _database_url()
    text = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
    lowered = text.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f"the database at {url} has no storeflow schema yet ({text}): {UPGRADE}"
    if "no such column" in lowered or ("column" in lowered and "does not exist" in lowered):
        return f"the database at {url} is behind this version of storeflow ({text}): {UPGRADE}"
    if "unable to open database file" in lowered:
        return (
            f"cannot open the SQLite database at {url}: does its folder exist, and may this "
            "user write there? (check STOREFLOW_VAR_DIR or STOREFLOW_DATABASE_URL)"
        )
    if "database is locked" in lowered:
        return f"the SQLite database at {url} stayed locked by another process; try again"
    if exc.connection_invalidated or _unreachable(lowered):
        return (
            f"cannot reach the database at {url}: {text} "
            "(is it running? check STOREFLOW_DATABASE_URL)"
        )
    return f"database error at {url}: {text}"


def _unreachable(text: str) -> bool:
    return any(
        marker in text
        for marker in (
            "connection refused",
            "could not connect",
            "connection failed",
            "could not translate host name",
            "name or service not known",
            "timeout expired",
            "server closed the connection",
            "password authentication failed",
            "does not exist",  # the database named in the URL
        )
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def _database_url() -> str:
    try:
        return display_url(config.load().database_url)
    except Exception:  # a URL that does not even parse: say where it comes from
        return "STOREFLOW_DATABASE_URL"


def _redis_url() -> str:
    try:
        return display_url(config.load().redis_url or "")
    except Exception:
        return "STOREFLOW_REDIS_URL"
