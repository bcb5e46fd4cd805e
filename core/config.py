"""Settings from the environment (``STOREFLOW_*``).

Reading settings has no side effects: nothing is created or written. Nothing
secret lives in files, except the generated session key: when
``STOREFLOW_SECRET_KEY`` is unset, :func:`ensure_secret_key` (called by
``storeflow db upgrade`` and ``storeflow serve``) writes one into the var dir so
that restarts keep users signed in.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import attrs

SECRET_KEY_FILE = "secret_key"


@attrs.frozen
class Settings:
    var_dir: Path
    database_url: str
    redis_url: str | None = None
    smtp_url: str | None = None
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    # A claimed job not finished within this many seconds is presumed dead.
    job_lease_seconds: int = 60
    job_max_attempts: int = 8
    # How often the worker's sweeper looks for lost, expired and due work.
    sweep_seconds: float = 10.0
    # Wake-ups from the web process are coalesced into one task per interval.
    wake_interval_seconds: float = 0.05
    # Jobs a worker claims per round trip; database-only ones commit as one transaction.
    worker_batch: int = 50
    # A batch's transaction ends after this long (the rest of the batch goes on in the
    # next one), and on SQLite the worker pauses this long after each commit, so that
    # requests never wait long for the database's one write lock.
    worker_transaction_seconds: float = 0.025
    worker_yield_seconds: float = 0.003
    # Finished jobs are pruned after this long (dead ones stay for operators).
    job_retention_seconds: float = 3600.0
    webhook_body_limit: int = 5 * 1024 * 1024
    storefront_body_limit: int = 32 * 1024
    mail_from: str = "storeflow@localhost"
    queue_immediate: bool = False
    # Extra plugin modules to import and register (``STOREFLOW_PLUGINS``, comma-separated).
    plugins: tuple[str, ...] = ()

    @property
    def job_retention(self) -> timedelta:
        return timedelta(seconds=self.job_retention_seconds)

    @property
    def queue_path(self) -> Path:
        return self.var_dir / "queue.db"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"STOREFLOW_{name}")
    return value if value not in (None, "") else default


def _secret_key(var_dir: Path) -> str:
    key = _env("SECRET_KEY")
    if key:
        return key
    path = var_dir / SECRET_KEY_FILE
    return path.read_text().strip() if path.exists() else ""


def ensure_secret_key(settings: Settings) -> Settings:
    """Settings with a session key, generating and storing one on first use."""
    if settings.secret_key:
        return settings
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / SECRET_KEY_FILE
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return attrs.evolve(settings, secret_key=path.read_text().strip())


def load() -> Settings:
    var_dir = Path(_env("VAR_DIR", "./var") or "./var").resolve()
    database_url = _env("DATABASE_URL") or f"sqlite:///{var_dir / 'storeflow.db'}"
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        redis_url=_env("REDIS_URL"),
        smtp_url=_env("SMTP_URL"),
        secret_key=_secret_key(var_dir),
        base_url=(_env("BASE_URL", "http://127.0.0.1:8000") or "").rstrip("/"),
        job_lease_seconds=int(_env("JOB_LEASE_SECONDS", "60") or 60),
        job_max_attempts=int(_env("JOB_MAX_ATTEMPTS", "8") or 8),
        sweep_seconds=float(_env("SWEEP_SECONDS", "10") or 10),
        wake_interval_seconds=float(_env("WAKE_INTERVAL_SECONDS", "0.05") or 0.05),
        worker_batch=max(1, int(_env("WORKER_BATCH", "50") or 50)),
        worker_transaction_seconds=float(_env("WORKER_TRANSACTION_SECONDS", "0.025") or 0.025),
        worker_yield_seconds=float(_env("WORKER_YIELD_SECONDS", "0.003") or 0.003),
        job_retention_seconds=float(_env("JOB_RETENTION_SECONDS", "3600") or 3600),
        mail_from=_env("MAIL_FROM", "storeflow@localhost") or "storeflow@localhost",
        queue_immediate=(_env("QUEUE_IMMEDIATE", "") or "").lower() in ("1", "true", "yes"),
        plugins=tuple(n.strip() for n in (_env("PLUGINS", "") or "").split(",") if n.strip()),
    )
