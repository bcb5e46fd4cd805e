"""Job kinds and their handlers.

A handler is a function ``(runtime, session, job) -> None`` that does its work in
the given session; the task commits it together with marking the job done. A
handler that performs an external effect (an email) can instead expose
``prepare/perform/finish`` through :class:`EffectHandler` so that the claim, the
effect and its record are separated by commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.orm import Session
from storeflow.core.storage.tables import Job


class EffectHandler(Protocol):
    def prepare(self, rt: Any, session: Session, job: Job) -> Any: ...
    def perform(self, rt: Any, plan: Any) -> Any: ...
    def finish(self, rt: Any, session: Session, job: Job, plan: Any, outcome: Any) -> None: ...


Handler = Callable[[Any, Session, Job], None]

HANDLERS: dict[str, Handler | EffectHandler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def register_effect(kind: str, effect: EffectHandler) -> None:
    HANDLERS[kind] = effect


# Called by the sweeper in its transaction: timers and health computed from table state.
PERIODIC: list[Callable[[Any, Session], None]] = []
