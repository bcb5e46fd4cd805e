"""Everything a request or a task needs, built by one factory per process.

:meth:`Runtime.build` reads nothing at import and builds, in order: the engine
and session factory, the plugin manager and what the plugins contribute
(providers, job kinds, sweeps, event consumers), the Huey queue with its tasks
bound to this runtime, and the coalescing waker. The Flask app receives it
through ``storeflow.web.app.create_app`` (``init_app``); the consumer builds one
in ``storeflow worker``; tests build their own from explicit settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import attrs
import pluggy
from huey.api import Huey
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from storeflow.core import clock, config, plugins
from storeflow.core.commerce.consumers import EventConsumer, collect_consumers
from storeflow.core.storage import db
from storeflow.core.stores.provider import Provider
from storeflow.core.transport import mailer
from storeflow.core.work import outbox, queue, tasks
from storeflow.core.work.jobs import AnyKind, Sweep, collect_sweeps, index_kinds
from storeflow.core.work.queue import Waker


@attrs.define
class Runtime:
    settings: config.Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    pm: pluggy.PluginManager
    providers: dict[str, Provider]
    job_kinds: dict[str, AnyKind]
    sweeps: tuple[Sweep, ...]
    event_consumers: tuple[EventConsumer, ...]
    huey: Huey | None = None
    tasks: tasks.Tasks | None = None
    # Tests set it to None when they run jobs themselves.
    waker: Waker | None = None
    # Outgoing mail: one SMTP connection per worker thread, reused.
    mail: mailer.Transport = attrs.field(factory=mailer.Transport)

    @classmethod
    def build(
        cls,
        settings: config.Settings | None = None,
        pm: pluggy.PluginManager | None = None,
        *,
        extra_plugins: Iterable[str | object] = (),
    ) -> Runtime:
        settings = config.check(settings or config.load())
        if settings.database_url.startswith("sqlite"):
            settings.var_dir.mkdir(parents=True, exist_ok=True)
        engine = db.make_engine(settings.database_url)
        pm = pm or plugins.build_plugin_manager(extra=[*settings.plugins, *extra_plugins])
        rt = cls(
            settings=settings,
            engine=engine,
            sessions=db.make_sessionmaker(engine),
            read_sessions=db.make_read_sessionmaker(engine),
            pm=pm,
            providers=plugins.providers(pm),
            job_kinds=index_kinds(pm.hook.register_job_kinds()),
            sweeps=collect_sweeps(pm.hook.register_sweeps()),
            event_consumers=collect_consumers(pm.hook.register_event_consumers()),
        )
        rt.huey = queue.build_huey(settings)
        rt.tasks = tasks.bind(rt.huey, lambda: rt)
        interval = 0.0 if rt.huey.immediate else settings.wake_interval_seconds
        tasks_ = rt.tasks
        rt.waker = Waker(lambda _ids: tasks_.wake(), interval)
        event.listen(rt.sessions, "after_commit", rt._after_commit)
        event.listen(rt.sessions, "after_soft_rollback", _forget_jobs)
        return rt

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with db.unit_of_work(self.sessions) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A unit of work that only reads: on SQLite it takes no write lock."""
        with db.unit_of_work(self.read_sessions) as session:
            yield session

    def close(self) -> None:
        self.mail.close()
        self.engine.dispose()

    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():
            return  # a SAVEPOINT was released; the real commit comes later
        new = session.info.pop(outbox.NEW_JOBS, [])
        if not new or self.waker is None:
            return
        now = clock.now()
        due = [job_id for job_id, when in new if when <= now]
        # Jobs due later (delays, retries, timers) are found by the sweeper's tick.
        if due:
            self.waker.wake(due)


def _forget_jobs(session: Session, previous_transaction: SessionTransaction) -> None:
    # Only a full rollback forgets; ids from a rolled-back SAVEPOINT that linger are
    # harmless (waking a job that does not exist claims nothing).
    if not session.in_nested_transaction():
        session.info.pop(outbox.NEW_JOBS, None)
