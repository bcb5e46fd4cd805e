"""Everything a request or a task needs, built once per process.

Holds settings, the database engine and session factory, the plugin manager and
the providers, and the waker. Web apps keep it in ``app.extensions["storeflow"]``;
the worker builds its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import attrs
import pluggy
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker
from storeflow.core import clock, config, plugins
from storeflow.core.storage import db
from storeflow.core.work import outbox
from storeflow.core.work.queue import Waker


@attrs.define
class Runtime:
    settings: config.Settings
    engine: Engine
    sessions: sessionmaker[Session]
    pm: pluggy.PluginManager
    providers: dict[str, Any]
    waker: Waker | None = None
    # (job_ids) -> None ; (job_id, eta) -> None. Set by storeflow.core.work.tasks.
    schedule: Callable[[int, datetime], None] | None = None

    @classmethod
    def build(
        cls, settings: config.Settings | None = None, pm: pluggy.PluginManager | None = None
    ) -> Runtime:
        settings = settings or config.load()
        engine = db.make_engine(settings.database_url)
        pm = pm or plugins.build_plugin_manager()
        rt = cls(
            settings=settings,
            engine=engine,
            sessions=db.make_sessionmaker(engine),
            pm=pm,
            providers=plugins.providers(pm),
        )
        event.listen(rt.sessions, "after_commit", rt._after_commit)
        event.listen(rt.sessions, "after_soft_rollback", _forget_jobs)
        return rt

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with db.unit_of_work(self.sessions) as session:
            yield session

    def connect_queue(self, enqueue: Callable[[list[int]], None], interval: float) -> None:
        self.waker = Waker(enqueue, interval)

    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():
            return  # a SAVEPOINT was released; the real commit comes later
        new = session.info.pop(outbox.NEW_JOBS, [])
        if not new or self.waker is None:
            return
        now = clock.now()
        due = [job_id for job_id, when in new if when <= now]
        later = [(job_id, when) for job_id, when in new if when > now]
        if due:
            self.waker.wake(due)
        if self.schedule is not None:
            for job_id, when in later:
                try:
                    self.schedule(job_id, when)
                except Exception:  # the sweeper fires due jobs anyway
                    pass


def _forget_jobs(session: Session, previous_transaction: Any) -> None:
    # Only a full rollback forgets; ids from a rolled-back SAVEPOINT that linger are
    # harmless (waking a job that does not exist claims nothing).
    if not session.in_nested_transaction():
        session.info.pop(outbox.NEW_JOBS, None)
