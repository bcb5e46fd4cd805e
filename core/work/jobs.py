"""What the worker can run: job kinds and periodic sweeps.

A job kind is one object that both adds its jobs (a method that calls
``outbox.add`` with its own name) and runs them, so following a kind from the
code that queues it to the code that handles it is a jump to one definition.
Kinds and sweeps reach the runtime through the ``register_job_kinds`` and
``register_sweeps`` hooks; nothing is registered by importing a module.

A kind that only changes the database implements :class:`JobKind`: its ``run``
works in the given session, which the worker commits together with marking the
job done. A kind with an external effect (an email, a webhook) implements
:class:`EffectKind` instead, so that the claim, the effect and its record are
separated by commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import attrs
from sqlalchemy.orm import Session

from storeflow.core.storage.tables import Job

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime


@runtime_checkable
class JobKind(Protocol):
    name: str

    def run(self, rt: Runtime, session: Session, job: Job) -> None: ...


@runtime_checkable
class BatchKind(JobKind, Protocol):
    """A :class:`JobKind` that can also run several of its jobs at once (set-based),
    in one savepoint. If ``run_batch`` raises, the worker runs the jobs one by one
    with ``run``, so ``run_batch`` needs no per-job isolation of its own."""

    def run_batch(self, rt: Runtime, session: Session, jobs: list[Job]) -> None: ...


Plan = TypeVar("Plan")
Outcome = TypeVar("Outcome")


@runtime_checkable
class EffectKind(Protocol[Plan, Outcome]):
    """A kind whose ``prepare`` plans an effect that ``perform`` carries out."""

    name: str

    def prepare(self, rt: Runtime, session: Session, job: Job) -> Plan | None:
        """In a transaction: decide and claim. ``None`` means nothing to perform."""

    def perform(self, rt: Runtime, plan: Plan) -> Outcome:
        """Outside any transaction: the external effect itself."""

    def finish(
        self, rt: Runtime, session: Session, job: Job, plan: Plan | None, outcome: Outcome | None
    ) -> None:
        """In a transaction: record the outcome (``None`` for both when nothing was planned)."""


# The registry holds kinds of every plan and outcome type.
AnyKind = JobKind | EffectKind[Any, Any]


@attrs.frozen
class Sweep:
    """A periodic check run by the sweeper in its transaction (timers, health, expiry).

    Computed from table state, so a skipped tick loses nothing.
    """

    name: str
    run: Callable[[Runtime, Session], None]


class WiringError(RuntimeError):
    """Two plugins claim the same job kind or sweep name."""


def index_kinds(batches: list[list[AnyKind]]) -> dict[str, AnyKind]:
    found: dict[str, AnyKind] = {}
    for batch in batches:
        for kind in batch or ():
            if not isinstance(kind, JobKind | EffectKind):
                raise WiringError(f"{kind!r} is neither a JobKind nor an EffectKind")
            if kind.name in found:
                raise WiringError(f"two plugins register the job kind {kind.name!r}")
            found[kind.name] = kind
    return found


def collect_sweeps(batches: list[list[Sweep]]) -> tuple[Sweep, ...]:
    seen: dict[str, Sweep] = {}
    for batch in batches:
        for sweep in batch or ():
            if sweep.name in seen:
                raise WiringError(f"two plugins register the sweep {sweep.name!r}")
            seen[sweep.name] = sweep
    return tuple(sorted(seen.values(), key=lambda s: s.name))
