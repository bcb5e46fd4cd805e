"""Huey tasks: thin wrappers that open units of work and call core functions.

Tasks carry job ids only. Each job is claimed, run and completed in its own
transactions (see ``storeflow.core.work.outbox``); handlers are looked up by job kind in
``storeflow.core.work.jobs.HANDLERS``.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import storeflow.core.commerce.ingest  # noqa: F401  (registers the "delivery" job handler)
import storeflow.core.stores.connections  # noqa: F401  (registers connect-request expiry with the sweeper)
import storeflow.core.stores.health  # noqa: F401  (registers health and stuck-command sweeps)
import storeflow.rules.runner  # noqa: F401  (registers the "event" and "step" job handlers)
from huey import crontab
from storeflow.core.runtime import Runtime
from storeflow.core.storage.tables import Job
from storeflow.core.work import jobs, outbox
from storeflow.core.work.queue import huey

log = logging.getLogger(__name__)

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()
DRAIN_LIMIT = 500


def runtime() -> Runtime:
    """The process's runtime, built on first use (the worker) or set by :func:`use_runtime`."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime.build()
            _connect(_runtime)
        return _runtime


def use_runtime(rt: Runtime) -> Runtime:
    global _runtime
    with _runtime_lock:
        _runtime = rt
        _connect(rt)
    return rt


def _connect(rt: Runtime) -> None:
    interval = 0.0 if huey.immediate else rt.settings.wake_interval_seconds
    rt.connect_queue(lambda ids: run_jobs(ids), interval)
    rt.schedule = _schedule


def _schedule(job_id: int, eta: datetime) -> None:
    if not huey.immediate:  # immediate mode has no scheduler; tests drain due jobs
        run_jobs.schedule(args=([job_id],), eta=eta)


class LostLease(RuntimeError):
    """Someone else re-claimed the job after our lease expired; our work was rolled back."""


def execute(rt: Runtime, job_id: int) -> bool:
    """Run one job if it can be claimed. Returns whether it was claimed."""
    with rt.unit_of_work() as session:
        job = outbox.claim(session, job_id, rt.settings.job_lease_seconds)
        if job is None:
            return False
        kind, attempt = job.kind, job.attempts
    rt.pm.hook.job_started(kind=kind, job_id=job_id, attempt=attempt)
    handler = jobs.HANDLERS.get(kind)
    try:
        if handler is None:
            raise LookupError(f"no handler for job kind {kind!r}")
        if callable(handler):
            with rt.unit_of_work() as session:
                handler(rt, session, session.get_one(Job, job_id))
                if not outbox.complete(session, job_id, attempt):
                    raise LostLease(f"job {job_id} was re-claimed")
        else:
            _execute_effect(rt, handler, job_id, attempt)
    except LostLease:
        log.warning("job %s lost its lease; its work was rolled back", job_id)
    except Exception as exc:
        log.exception("job %s (%s) attempt %s failed", job_id, kind, attempt)
        with rt.unit_of_work() as session:
            outbox.fail(
                session,
                job_id,
                attempt,
                f"{type(exc).__name__}: {exc}",
                rt.settings.job_max_attempts,
            )
    return True


def _execute_effect(rt: Runtime, handler: jobs.EffectHandler, job_id: int, attempt: int) -> None:
    with rt.unit_of_work() as session:
        plan = handler.prepare(rt, session, session.get_one(Job, job_id))
    outcome = handler.perform(rt, plan) if plan is not None else None
    with rt.unit_of_work() as session:
        handler.finish(rt, session, session.get_one(Job, job_id), plan, outcome)
        if not outbox.complete(session, job_id, attempt):
            raise LostLease(f"job {job_id} was re-claimed")


def drain(rt: Runtime, limit: int = DRAIN_LIMIT) -> int:
    """Run due jobs until none are left (or ``limit`` ran). Returns how many ran."""
    ran = 0
    while ran < limit:
        with rt.unit_of_work() as session:
            ids = outbox.due_ids(session, 50)
        if not ids:
            break
        claimed = [job_id for job_id in ids if execute(rt, job_id)]
        if not claimed:
            break
        ran += len(claimed)
    return ran


def sweep(rt: Runtime) -> outbox.SweepReport:
    with rt.unit_of_work() as session:
        report = outbox.sweep(session, max_attempts=rt.settings.job_max_attempts)
        for periodic in jobs.PERIODIC:
            periodic(rt, session)
    if report.enqueue:
        for start in range(0, len(report.enqueue), 100):
            run_jobs(report.enqueue[start : start + 100])
    return report


@huey.task()
def run_jobs(job_ids: list[int]) -> int:
    rt = runtime()
    ran = sum(1 for job_id in job_ids if execute(rt, job_id))
    # Coalesced wake-ups name only some of the jobs that are due: take the rest too.
    ran += drain(rt)
    return ran


@huey.task()
@huey.lock_task("storeflow-sweeper")
def sweep_now() -> None:
    sweep(runtime())


@huey.periodic_task(crontab(minute="*"))
@huey.lock_task("storeflow-sweeper-periodic")
def sweep_periodic() -> None:
    sweep(runtime())
