"""Logging: one standard-library configuration for every process, and who a line is about.

:func:`configure` applies a ``logging.config.dictConfig`` built by :func:`config_dict`
(the web server hands the same dictionary to gunicorn, whose error and access logs
then share the format). ``STOREFLOW_LOG_LEVEL`` sets the level (``INFO``) and
``STOREFLOW_LOG_FORMAT=json`` switches from text lines to one JSON object per line.

The worker sets the company and job of the job it runs (:func:`job_context`, context
variables, so each thread and each request has its own); a filter copies them onto
every record, so a line logged anywhere below a job names it without being told.
Importing this module configures nothing.
"""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")

# What a line is about; None outside a job (or a request that named a company).
company_id: ContextVar[int | None] = ContextVar("storeflow_company_id", default=None)
job_id: ContextVar[int | None] = ContextVar("storeflow_job_id", default=None)
job_kind: ContextVar[str | None] = ContextVar("storeflow_job_kind", default=None)

_CONTEXT = (("company_id", company_id), ("job_id", job_id), ("job_kind", job_kind))
# Attributes every LogRecord has: anything else on a record was passed with ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "context"}
_STANDARD |= {name for name, _ in _CONTEXT}


@contextmanager
def job_context(
    *, job: int | None, kind: str | None = None, company: int | None = None
) -> Iterator[None]:
    """Name the job (and its company) on every line logged inside the block."""
    job_token, kind_token = job_id.set(job), job_kind.set(kind)
    company_token = company_id.set(company)
    try:
        yield
    finally:
        job_id.reset(job_token)
        job_kind.reset(kind_token)
        company_id.reset(company_token)


class ContextFilter(logging.Filter):
    """Copy the context variables onto the record (``record.company_id`` ...) and a
    ``record.context`` string for text formats (`` [company=3 job=17 step]``, or empty)."""

    def filter(self, record: logging.LogRecord) -> bool:
        parts = []
        for name, var in _CONTEXT:
            value = getattr(record, name, None)
            if value is None:
                value = var.get()
                setattr(record, name, value)
            if value is not None:
                parts.append(str(value) if name == "job_kind" else f"{name[:-3]}={value}")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context, any
    ``extra=`` fields, and the traceback as ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, _ in _CONTEXT:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line and not key.startswith("_"):
                line[key] = value if _jsonable(value) else repr(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _jsonable(value: object) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | dict)


class BadLogSetting(ValueError):
    pass


def config_dict(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """The ``dictConfig`` for a storeflow process: everything to stderr, one format."""
    level = level.upper()
    if level not in LEVELS:
        raise BadLogSetting(
            f"STOREFLOW_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}"
        )
    if fmt not in FORMATS:
        raise BadLogSetting(
            f"STOREFLOW_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}"
        )
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if fmt == "json"
        else {
            "format": "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
    )
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "storeflow",
        "filters": ["context"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": f"{__name__}.ContextFilter"}},
        "formatters": {"storeflow": formatter},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # gunicorn's own loggers get our handler (it adds its own otherwise).
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            # A consumer logs a line per task at INFO; that is noise next to ours.
            "huey": {"level": "WARNING" if level == "INFO" else level},
            "huey.consumer": {"level": level},
            # /readyz reads the schema's revision; alembic announces its dialect each time.
            "alembic": {"level": "WARNING" if level == "INFO" else level},
        },
    }


def configure(level: str = "INFO", fmt: str = "text") -> None:
    logging.config.dictConfig(config_dict(level, fmt))
