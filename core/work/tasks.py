"""The worker's side of the outbox: claim due jobs in batches, run them, sweep.

A round claims a batch of due jobs with one statement and runs them:

- jobs of kinds that only change the database (``JobKind``: deliveries, events,
  and any kind no loaded plugin registers, so that it fails with its name) run in
  **one transaction**, a savepoint each, so one bad job never fails its neighbours
  and the batch commits once (group commit);
- jobs with an external effect (``EffectKind``: a step that sends) run one by one,
  each as prepare (a transaction) -> perform (no transaction) -> finish (a
  transaction), so a crash loses at most the one send in flight, which the sweeper
  marks ``unknown``.

The two lanes alternate, each in due order, so a backlog of old deliveries never
starves new sends. Huey tasks are thin wrappers bound to one runtime by :func:`bind`
(none is defined at import time). A wake-up carries nothing: at most one is queued
at a time (a flag in Huey's storage), and a worker that claimed a full batch wakes
another, so idle worker threads join a backlog and a burst leaves no stale tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from huey import crontab
from huey.api import Huey

from storeflow.core import logs
from storeflow.core.storage.tables import Job
from storeflow.core.work import outbox
from storeflow.core.work.jobs import BatchKind, EffectKind, JobKind
from storeflow.core.work.outbox import LostLease

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

log = logging.getLogger(__name__)

DRAIN_LIMIT = 500
WAKE_FLAG = "storeflow.wake-pending"


def execute(rt: Runtime, job_id: int) -> bool:
    """Claim and run one job by id. Returns whether it was claimed."""
    with rt.unit_of_work() as session:
        job = outbox.claim(session, job_id, rt.settings.job_lease_seconds)
        if job is None:
            return False
        kind_name, attempt, company_id = job.kind, job.attempts, job.company_id
    _run_claimed(rt, job_id, kind_name, attempt, company_id)
    return True


def _run_claimed(
    rt: Runtime, job_id: int, kind_name: str, attempt: int, company_id: int | None = None
) -> None:
    """Run a job we hold, in transactions of its own; every line logged names it."""
    with logs.job_context(job=job_id, kind=kind_name, company=company_id):
        _run_held(rt, job_id, kind_name, attempt)


def _run_held(rt: Runtime, job_id: int, kind_name: str, attempt: int) -> None:
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
        _record_failure(rt, job_id, attempt, exc)


def _record_failure(rt: Runtime, job_id: int, attempt: int, exc: BaseException) -> None:
    with rt.unit_of_work() as session:
        outbox.fail(
            session, job_id, attempt, f"{type(exc).__name__}: {exc}", rt.settings.job_max_attempts
        )


def _execute_effect(rt: Runtime, kind: EffectKind[Any, Any], job_id: int, attempt: int) -> None:
    with rt.unit_of_work() as session:
        plan = kind.prepare(rt, session, session.get_one(Job, job_id))
    outcome = kind.perform(rt, plan) if plan is not None else None
    with rt.unit_of_work() as session:
        kind.finish(rt, session, session.get_one(Job, job_id), plan, outcome)
        if not outbox.complete(session, job_id, attempt):
            raise LostLease(f"job {job_id} was re-claimed")


def effect_kinds(rt: Runtime) -> frozenset[str]:
    return frozenset(name for name, kind in rt.job_kinds.items() if not isinstance(kind, JobKind))


@attrs.define
class Pace:
    """How long a job has taken lately (seconds), to size runs to the time budget."""

    per_job: float | None = None

    def fit(self, left: float) -> int:
        """How many jobs fit in ``left`` seconds; one while nothing is known."""
        if self.per_job is None or self.per_job <= 0:
            return 1
        return int(left / self.per_job)

    def record(self, seconds: float, jobs: int) -> None:
        latest = seconds / jobs
        self.per_job = latest if self.per_job is None else (self.per_job + latest) / 2


def run_internal_batch(rt: Runtime, limit: int, pace: Pace | None = None) -> int:
    """Claim up to ``limit`` database-only jobs and run them in one transaction."""
    pace = pace if pace is not None else Pace()
    effects = effect_kinds(rt)
    with rt.unit_of_work() as session:
        claimed = outbox.claim_batch(
            session, limit=limit, lease_seconds=rt.settings.job_lease_seconds, exclude=effects
        )
        held = [(job.id, job.kind, job.attempts) for job in claimed]
        companies = {job.id: job.company_id for job in claimed}
    if not held:
        return 0
    remaining = held
    while remaining:
        try:
            remaining = _group_commit(rt, remaining, pace)
        except Exception:  # the batch as a whole (a lost lease, a deadlock): one by one
            log.warning("a batch of %d jobs failed as a whole; running them one by one", len(held))
            for job_id, kind_name, attempt in remaining:
                _run_claimed(rt, job_id, kind_name, attempt, companies.get(job_id))
            remaining = []
        _yield_write_lock(rt)
    return len(held)


def _yield_write_lock(rt: Runtime) -> None:
    """On SQLite, pause after a commit so that requests waiting for the one write lock
    get it before this worker's next transaction (they poll every half millisecond)."""
    if rt.engine.dialect.name == "sqlite":
        time.sleep(rt.settings.worker_yield_seconds)


def _group_commit(
    rt: Runtime, held: list[tuple[int, str, int]], pace: Pace
) -> list[tuple[int, str, int]]:
    """Run held jobs in one transaction until its time budget is spent; the rest are
    returned for the next transaction (still ours: their leases stand).

    A run of consecutive jobs of a :class:`BatchKind` (deliveries) is handed to the kind
    at once, so that it applies them set-based; if that fails, the run's jobs go one by
    one, each in its own savepoint, so one bad job still never fails its neighbours.
    """
    budget = time.monotonic() + rt.settings.worker_transaction_seconds
    with rt.unit_of_work() as session:
        rows = {
            job.id: job for job in outbox.jobs_by_id(session, [job_id for job_id, _, _ in held])
        }
        done: list[tuple[int, int]] = []
        failed: list[tuple[int, int, str]] = []
        index, rest = 0, []
        while index < len(held):
            now = time.monotonic()
            if index and now > budget:
                rest = held[index:]
                break
            kind = rt.job_kinds.get(held[index][1])
            # As many jobs as the recent pace says fit in what is left of the budget.
            most = max(1, min(BATCH_RUN, pace.fit(budget - now)))
            run = _same_kind(held, index, most) if isinstance(kind, BatchKind) else [held[index]]
            index += len(run)
            batched = len(run) > 1 and _run_batch(rt, session, kind, [rows[j[0]] for j in run])
            pace.record(time.monotonic() - now, len(run))
            if batched:
                done.extend((job_id, attempt) for job_id, _, attempt in run)
                continue
            for job_id, kind_name, attempt in run:
                error = _run_one(rt, session, rows[job_id], kind_name, attempt)
                if error is None:
                    done.append((job_id, attempt))
                else:
                    failed.append((job_id, attempt, error))
        outbox.complete_many(session, done)
        for job_id, attempt, error in failed:
            outbox.fail(session, job_id, attempt, error, rt.settings.job_max_attempts)
    return rest


# Jobs handed to a batch kind at once: small enough that the transaction's time budget
# is checked often, large enough that a statement serves many jobs.
BATCH_RUN = 16


def _same_kind(
    held: list[tuple[int, str, int]], index: int, most: int
) -> list[tuple[int, str, int]]:
    """The jobs from ``index`` on that are of the same kind, at most ``most``."""
    run = [held[index]]
    for job in held[index + 1 : index + most]:
        if job[1] != run[0][1]:
            break
        run.append(job)
    return run


def _run_batch(rt: Runtime, session: Any, kind: Any, jobs: list[Job]) -> bool:
    """Run ``jobs`` together in a savepoint; False (and nothing kept) if that failed."""
    for job in jobs:
        rt.pm.hook.job_started(kind=job.kind, job_id=job.id, attempt=job.attempts)
    try:
        with logs.job_context(job=None, kind=jobs[0].kind), session.begin_nested():
            kind.run_batch(rt, session, jobs)
    except Exception:
        log.info(
            "%d %s jobs failed together; running them one by one",
            len(jobs),
            jobs[0].kind,
            exc_info=True,
        )
        return False
    return True


def _run_one(rt: Runtime, session: Any, job: Job, kind_name: str, attempt: int) -> str | None:
    """Run one job in a savepoint; the error to record, or None when it succeeded."""
    with logs.job_context(job=job.id, kind=kind_name, company=job.company_id):
        rt.pm.hook.job_started(kind=kind_name, job_id=job.id, attempt=attempt)
        kind = rt.job_kinds.get(kind_name)
        try:
            with session.begin_nested():
                if not isinstance(kind, JobKind):
                    raise LookupError(f"no plugin registers the job kind {kind_name!r}")
                kind.run(rt, session, job)
        except Exception as exc:
            log.exception("job %s (%s) attempt %s failed", job.id, kind_name, attempt)
            return f"{type(exc).__name__}: {exc}"
    return None


def run_effect_batch(rt: Runtime, limit: int) -> int:
    """Claim up to ``limit`` jobs with external effects and run each on its own."""
    effects = effect_kinds(rt)
    if not effects:
        return 0
    with rt.unit_of_work() as session:
        claimed = outbox.claim_batch(
            session, limit=limit, lease_seconds=rt.settings.job_lease_seconds, kinds=effects
        )
        held = [(job.id, job.kind, job.attempts) for job in claimed]
        companies = {job.id: job.company_id for job in claimed}
    for job_id, kind_name, attempt in held:
        _run_claimed(rt, job_id, kind_name, attempt, companies.get(job_id))
    return len(held)


def drain(
    rt: Runtime,
    limit: int = DRAIN_LIMIT,
    *,
    on_full: Callable[[], None] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> int:
    """Run due jobs, alternating the two lanes, until none are left or ``limit`` ran.

    ``on_full`` is called when a lane claimed a full batch: there is more work than
    this worker takes at once, so another worker may join. ``stopping`` is asked
    between batches: a consumer shutting down gracefully finishes the batch it holds
    and leaves the rest (durable in the table) to the next worker.
    """
    batch = rt.settings.worker_batch
    ran = 0
    pace = Pace()
    while ran < limit and not (stopping is not None and stopping()):
        size = min(batch, limit - ran)
        internal = run_internal_batch(rt, size, pace)
        ran += internal
        if ran >= limit:
            break
        effect_size = min(max(1, batch // 2), limit - ran)
        effects = run_effect_batch(rt, effect_size)
        ran += effects
        if on_full is not None and (internal == size or effects == effect_size):
            on_full()
        if internal + effects == 0:
            break
    return ran


def sweep(rt: Runtime) -> outbox.SweepReport:
    """Find lost work and run every registered sweep, in one transaction."""
    started = time.monotonic()
    with rt.unit_of_work() as session:
        report = outbox.sweep(
            session,
            max_attempts=rt.settings.job_max_attempts,
            retention=rt.settings.job_retention,
        )
        for periodic in rt.sweeps:
            periodic.run(rt, session)
    if report.requeued or report.dead or report.unknown_messages or report.pruned:
        log.info(
            "sweep: %d due, %d requeued after an expired lease, %d dead, %d sends unknown, "
            "%d finished jobs pruned (%.0f ms)",
            report.due,
            report.requeued,
            report.dead,
            report.unknown_messages,
            report.pruned,
            (time.monotonic() - started) * 1000,
        )
    if report.due and rt.tasks is not None:
        rt.tasks.wake(stale_after=max(30.0, 3 * rt.settings.sweep_seconds))
    return report


class DrainTask(Protocol):
    """The ``drain`` huey task: call it to queue a wake-up."""

    def __call__(self) -> object: ...


class SweepTask(Protocol):
    def __call__(self) -> object: ...


@attrs.define
class Tasks:
    """The Huey tasks of one runtime: how producers wake workers, and what workers run."""

    huey: Huey
    drain: DrainTask | None = None
    sweep_now: SweepTask | None = None
    # Set by the consumer: true once a graceful shutdown began (see ``drain``).
    stopping: Callable[[], bool] | None = None

    def wake(self, *, stale_after: float | None = None) -> None:
        """Queue a wake-up unless one is already queued (coalesced across processes).

        Huey delivers at most once: a queued wake-up can be lost with a killed consumer,
        leaving the flag behind. The sweeper passes ``stale_after`` to replace a flag
        older than that.
        """
        if stale_after is not None:
            raised = self.huey.get(WAKE_FLAG, peek=True)
            if raised is not None and time.time() - float(raised) > stale_after:
                self.huey.get(WAKE_FLAG)
        if self.huey.put_if_empty(WAKE_FLAG, str(time.time())) and self.drain is not None:
            self.drain()

    def run_drain(self, rt: Runtime) -> int:
        """The task body: clear the flag first, so a commit from now on queues a new one."""
        self.huey.get(WAKE_FLAG)  # reading pops it
        return drain(rt, limit=10**9, on_full=self._wake_other, stopping=self.stopping)

    def _wake_other(self) -> None:
        if not self.huey.immediate:  # one thread runs everything in immediate mode
            self.wake()


# One lock for both ways a sweep starts (the ticker's and the periodic task): two sweeps
# at once would race each other's claims and double their writes.
SWEEP_LOCK = "storeflow-sweeper"


def bind(huey: Huey, runtime: Callable[[], Runtime]) -> Tasks:
    """Define the tasks on ``huey``; each resolves the runtime when it runs.

    Huey ships no type information, so its decorators are applied as calls: what they
    return is described by :class:`DrainTask` and :class:`SweepTask`.
    """
    tasks = Tasks(huey=huey)

    def drain_task() -> int:
        return tasks.run_drain(runtime())

    def sweep_now() -> None:
        sweep(runtime())

    def sweep_periodic() -> None:
        sweep(runtime())

    tasks.drain = huey.task(name="storeflow.drain")(drain_task)
    tasks.sweep_now = huey.task(name="storeflow.sweep_now")(huey.lock_task(SWEEP_LOCK)(sweep_now))
    huey.periodic_task(crontab(minute="*"), name="storeflow.sweep_periodic")(
        huey.lock_task(SWEEP_LOCK)(sweep_periodic)
    )
    return tasks
