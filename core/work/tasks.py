"""The worker's side of the outbox: run claimed jobs, drain what is due, sweep.

Huey tasks are thin wrappers bound to one runtime by :func:`bind` (no task is
defined at import time). They carry job ids only; the ``jobs`` table is the
record. Each job is claimed, run and completed in its own transactions (see
``storeflow.core.work.outbox``); its kind object comes from the runtime, which
collected the kinds from the plugins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from huey import crontab
from huey.api import Huey

from storeflow.core.storage.tables import Job
from storeflow.core.work import outbox
from storeflow.core.work.jobs import EffectKind, JobKind

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

log = logging.getLogger(__name__)

DRAIN_LIMIT = 500


class LostLease(RuntimeError):
    """Someone else re-claimed the job after our lease expired; our work was rolled back."""


def execute(rt: Runtime, job_id: int) -> bool:
    """Run one job if it can be claimed. Returns whether it was claimed."""
    with rt.unit_of_work() as session:
        job = outbox.claim(session, job_id, rt.settings.job_lease_seconds)
        if job is None:
            return False
        kind_name, attempt = job.kind, job.attempts
    rt.pm.hook.job_started(kind=kind_name, job_id=job_id, attempt=attempt)
    kind = rt.job_kinds.get(kind_name)
    try:
        if kind is None:
            raise LookupError(f"no plugin registers the job kind {kind_name!r}")
        if isinstance(kind, JobKind):
            with rt.unit_of_work() as session:
                kind.run(rt, session, session.get_one(Job, job_id))
                if not outbox.complete(session, job_id, attempt):
                    raise LostLease(f"job {job_id} was re-claimed")
        else:
            _execute_effect(rt, kind, job_id, attempt)
    except LostLease:
        log.warning("job %s lost its lease; its work was rolled back", job_id)
    except Exception as exc:
        log.exception("job %s (%s) attempt %s failed", job_id, kind_name, attempt)
        with rt.unit_of_work() as session:
            outbox.fail(
                session,
                job_id,
                attempt,
                f"{type(exc).__name__}: {exc}",
                rt.settings.job_max_attempts,
            )
    return True


def _execute_effect(rt: Runtime, kind: EffectKind[Any, Any], job_id: int, attempt: int) -> None:
    with rt.unit_of_work() as session:
        plan = kind.prepare(rt, session, session.get_one(Job, job_id))
    outcome = kind.perform(rt, plan) if plan is not None else None
    with rt.unit_of_work() as session:
        kind.finish(rt, session, session.get_one(Job, job_id), plan, outcome)
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
    """Find lost work and run every registered sweep, in one transaction."""
    with rt.unit_of_work() as session:
        report = outbox.sweep(session, max_attempts=rt.settings.job_max_attempts)
        for periodic in rt.sweeps:
            periodic.run(rt, session)
    if report.enqueue and rt.tasks is not None:
        for start in range(0, len(report.enqueue), 100):
            rt.tasks.run_jobs(report.enqueue[start : start + 100])
    return report


class JobsTask(Protocol):
    """The ``run_jobs`` huey task: call it to enqueue, ``schedule`` to delay."""

    def __call__(self, job_ids: list[int]) -> object: ...

    def schedule(self, *, args: tuple[list[int]], eta: datetime) -> object: ...


class SweepTask(Protocol):
    def __call__(self) -> object: ...


@attrs.frozen
class Tasks:
    """The Huey tasks of one runtime: how the web side wakes workers, and what they run."""

    huey: Huey
    run_jobs: JobsTask
    sweep_now: SweepTask

    def wake(self, job_ids: list[int]) -> None:
        self.run_jobs(job_ids)

    def schedule(self, job_id: int, eta: datetime) -> None:
        # Immediate mode has no scheduler; tests drain due jobs themselves.
        if not self.huey.immediate:
            self.run_jobs.schedule(args=([job_id],), eta=eta)


def bind(huey: Huey, runtime: Callable[[], Runtime]) -> Tasks:
    """Define the tasks on ``huey``; each resolves the runtime when it runs.

    Huey ships no type information, so its decorators are applied as calls: what they
    return is described by :class:`JobsTask` and :class:`SweepTask`.
    """

    def run_jobs(job_ids: list[int]) -> int:
        rt = runtime()
        ran = sum(1 for job_id in job_ids if execute(rt, job_id))
        # Coalesced wake-ups name only some of the jobs that are due: take the rest too.
        ran += drain(rt)
        return ran

    def sweep_now() -> None:
        sweep(runtime())

    def sweep_periodic() -> None:
        sweep(runtime())

    jobs_task: JobsTask = huey.task(name="storeflow.run_jobs")(run_jobs)
    sweep_task: SweepTask = huey.task(name="storeflow.sweep_now")(
        huey.lock_task("storeflow-sweeper")(sweep_now)
    )
    huey.periodic_task(crontab(minute="*"), name="storeflow.sweep_periodic")(
        huey.lock_task("storeflow-sweeper-periodic")(sweep_periodic)
    )
    return Tasks(huey=huey, run_jobs=jobs_task, sweep_now=sweep_task)
