"""Settings from the environment (``STOREFLOW_*``), read once per process.

Nothing secret lives in files, except the generated session key, which is
written into the var dir when ``STOREFLOW_SECRET_KEY`` is unset so that restarts
keep users signed in.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import attrs


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
    webhook_body_limit: int = 5 * 1024 * 1024
    storefront_body_limit: int = 32 * 1024
    mail_from: str = "storeflow@localhost"
    queue_immediate: bool = False

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
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load() -> Settings:
    var_dir = Path(_env("VAR_DIR", "./var") or "./var").resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
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
        mail_from=_env("MAIL_FROM", "storeflow@localhost") or "storeflow@localhost",
        queue_immediate=(_env("QUEUE_IMMEDIATE", "") or "").lower() in ("1", "true", "yes"),
    )
