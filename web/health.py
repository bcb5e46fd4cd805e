"""``GET /healthz`` (liveness) and ``GET /readyz`` (readiness).

``/healthz`` answers 200 while the process can answer at all: a load balancer or
Kubernetes restarts a process that stops answering it. ``/readyz`` says whether this
process can do its work now: the database answers, the queue answers, and the
database's schema is at the migration head this code expects. Any check failing
gives 503 (take the process out of rotation, do not restart it), each check with
its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify

from storeflow.core import readiness
from storeflow.core.runtime import Runtime
from storeflow.web import runtime as web_runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"success": True, "status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    rt = web_runtime.rt()
    checks = {name: _run(check, rt) for name, check in CHECKS.items()}
    ready = all(result["ok"] for result in checks.values())
    body = {"success": ready, "status": "ready" if ready else "unavailable", "checks": checks}
    return jsonify(body), 200 if ready else 503


def _run(check: Callable[[Runtime], dict[str, Any]], rt: Runtime) -> dict[str, Any]:
    try:
        return {"ok": True, **check(rt)}
    except Exception as exc:  # a check reports its failure; readiness never raises
        return {"ok": False, "error": _one_line(exc)}


def _database(rt: Runtime) -> dict[str, Any]:
    readiness.database(rt.engine)
    return {}


def _queue(rt: Runtime) -> dict[str, Any]:
    if rt.huey is None:
        raise RuntimeError("no queue configured")
    return {"pending": int(rt.huey.pending_count())}


def _migrations(rt: Runtime) -> dict[str, Any]:
    return {"revision": readiness.schema_revision(rt.engine, rt.settings.database_url)}


def _one_line(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300]


CHECKS: dict[str, Callable[[Runtime], dict[str, Any]]] = {
    "database": _database,
    "queue": _queue,
    "migrations": _migrations,
}
