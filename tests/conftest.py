"""Shared fixtures: a migrated database per test, a runtime, the Flask app, SMTP.

The database is SQLite unless ``STOREFLOW_TEST_DATABASE_URL`` names another (the
CI runs the whole suite a second time on PostgreSQL). In-process tests run Huey
in immediate mode; tests that start real consumers use the real queue (Redis when
``STOREFLOW_TEST_REDIS_URL`` is set, SqliteHuey otherwise).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from storeflow.core import clock, config
from storeflow.core.runtime import Runtime
from storeflow.core.storage import migrate
from storeflow.core.storage.tables import Base

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="storeflow-tests-"))

# Timing is measured in bench/, never asserted: a busy CI machine must not fail a
# property test because one example was slow.
hypothesis_settings.register_profile("storeflow", deadline=None)
hypothesis_settings.load_profile("storeflow")

TEST_DATABASE_URL = os.environ.get("STOREFLOW_TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("STOREFLOW_TEST_REDIS_URL", "")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set STOREFLOW_TEST_DATABASE_URL")
    skip_redis = pytest.mark.skip(reason="needs Redis: set STOREFLOW_TEST_REDIS_URL")
    for item in items:
        if "postgres" in item.keywords and not TEST_DATABASE_URL.startswith("postgresql"):
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not TEST_REDIS_URL:
            item.add_marker(skip_redis)


def is_postgres() -> bool:
    return TEST_DATABASE_URL.startswith("postgresql")


@pytest.fixture(scope="session")
def _template_db() -> Iterator[str]:
    """Migrate once per session: a SQLite file to copy, or the PostgreSQL database."""
    if is_postgres():
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate.upgrade(TEST_DATABASE_URL)
        yield TEST_DATABASE_URL
        return
    path = _SESSION_DIR / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    yield str(path)


@pytest.fixture
def database_url(_template_db: str, tmp_path: Path) -> Iterator[str]:
    if is_postgres():
        engine = create_engine(_template_db)
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        yield _template_db
        return
    path = tmp_path / "storeflow.db"
    shutil.copy(_template_db, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> config.Settings:
    """Explicit settings: the environment of the test run plays no part."""
    return config.Settings(
        var_dir=tmp_path / "var",
        database_url=database_url,
        secret_key="test-secret-key",
        queue_immediate=True,
        wake_interval_seconds=0.0,
    )


@pytest.fixture
def rt(settings: config.Settings) -> Iterator[Runtime]:
    runtime = Runtime.build(settings)
    clock.reset()
    yield runtime
    clock.reset()
    runtime.close()


@pytest.fixture
def app(rt: Runtime) -> Any:
    from storeflow.web.app import create_app

    return create_app({"TESTING": True}, runtime=rt)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


# --- tenants --------------------------------------------------------------------------


@attrs.frozen
class Tenant:
    company_id: int
    slug: str
    api_key: str
    integration_id: str
    webhook_secret: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_tenant(rt: Runtime, slug: str, currency: str = "USD") -> Tenant:
    from storeflow.core import accounts
    from storeflow.core.stores import integrations

    with rt.unit_of_work() as session:
        company = accounts.create_company(session, slug, slug.title())
        key = accounts.create_api_key(session, company)
        integration = integrations.create(
            session,
            company,
            "woocommerce",
            store_url=f"https://{slug}.example.com",
            currency=currency,
        )
        return Tenant(company.id, slug, key, integration.id, integration.webhook_secret or "")


@pytest.fixture
def tenant(rt: Runtime) -> Tenant:
    return make_tenant(rt, "acme")


@pytest.fixture
def other_tenant(rt: Runtime) -> Tenant:
    return make_tenant(rt, "globex")


# --- SMTP -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes
        from email.policy import default

        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"


@attrs.define
class SmtpServer:
    url: str
    handler: _Collect

    @property
    def messages(self) -> list[Any]:
        with self.handler.lock:
            return list(self.handler.messages)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller

    handler = _Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(url=f"smtp://127.0.0.1:{port}", handler=handler)
    finally:
        controller.stop()


@pytest.fixture
def rt_smtp(rt: Runtime, smtp_server: SmtpServer) -> Runtime:
    rt.settings = attrs.evolve(rt.settings, smtp_url=smtp_server.url)
    return rt
