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

from storeflow.core import emails

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
    # --- operations (logging, shutdown, retention, metrics) ------------------------------
    log_level: str = "INFO"
    log_format: str = "text"  # text | json
    # SIGTERM: running jobs get this long to finish before the worker exits anyway.
    shutdown_grace_seconds: float = 25.0
    # The sweeper deletes, in batches, rows older than these (0 keeps them forever).
    delivery_retention_days: float = 30.0  # processed and ignored raw deliveries
    failed_delivery_retention_days: float = 90.0  # failed ones, kept longer for replay
    plugin_request_retention_days: float = 7.0  # the plugins' webhook-id replay answers
    event_retention_days: float = 400.0  # events no enrollment starts from
    retention_batch: int = 500  # rows per table per sweep
    # When set, GET /metrics requires ``Authorization: Bearer <token>``.
    metrics_token: str | None = None
    # --- end operations -------------------------------------------------------------------
    # --- replenishment (storeflow.core.commerce.replenishment) ---------------------------
    # The due sweep fires reminders in batches of this many, at most ``limit`` per sweep
    # (the rest fire on the next one), so one sweep's transaction stays bounded.
    replenishment_sweep_batch: int = 500
    replenishment_sweep_limit: int = 2_000
    # A live order whose reminder would already have been due this many days ago
    # (an old order seen for the first time) schedules nothing.
    replenishment_late_days: float = 14.0
    # ``suggestedDays`` needs at least this many repeat-purchase intervals.
    replenishment_min_samples: int = 5
    # --- end replenishment ----------------------------------------------------------------
    # --- back in stock (storeflow.core.commerce.waitlists, storeflow.web.storefront) -----
    # Storefront waitlist requests: per client IP per minute, per email per hour.
    storefront_ip_per_minute: int = 30
    storefront_email_per_hour: int = 10
    # --- end back in stock ----------------------------------------------------------------
    # --- hardening (edges, sessions, proxies) ---------------------------------------------
    # Orders placed longer ago than this are history even when a webhook brings them.
    live_order_max_age_days: float = 30.0
    # A signed-in page session ends this long after sign-in, whatever the activity.
    session_max_age_seconds: int = 12 * 3600
    # Reverse proxies in front of the app that append to X-Forwarded-For (0: none, the
    # peer address is the client). Set it to the number of proxies you run, never more.
    proxy_hops: int = 0
    # --- end hardening ----------------------------------------------------------------------
    # --- shopify (storeflow.providers.shopify, storeflow.web.shopify) ---------------------
    # The app's client id and secret (webhooks and the OAuth redirect are signed with the
    # secret; the previous one still verifies while a rotation is under way).
    shopify_api_key: str = ""
    shopify_api_secret: str = ""
    shopify_previous_api_secret: str = ""
    # Where the Admin API and OAuth endpoints are; empty means https://<shop>. Tests
    # point it at a local server.
    shopify_base_url: str = ""
    shopify_api_version: str = "2026-07"
    # Encrypts stored access tokens; the secret key when unset.
    token_key: str = ""
    # --- end shopify ------------------------------------------------------------------------
    # --- commerce api (storeflow.web.commerce_api) -----------------------------------------
    # Pushes per company API key per minute to /api/v1/... (429 with Retry-After beyond).
    commerce_api_per_minute: int = 600
    # --- end commerce api -------------------------------------------------------------------

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


class ConfigError(ValueError):
    """A setting that cannot work; the message names the variable and what is wrong."""


def check(settings: Settings) -> Settings:
    """Refuse settings that would only fail later, deep in a send: every process checks
    them when it starts (``Runtime.build``, ``storeflow serve``)."""
    try:
        emails.parse_sender(settings.mail_from)
    except emails.InvalidAddress as exc:
        raise ConfigError(
            f"STOREFLOW_MAIL_FROM={settings.mail_from!r} is not one valid sender address "
            f"({exc}); use shop@example.com or Shop <shop@example.com>"
        ) from None
    return settings


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
        # --- operations ---
        log_level=(_env("LOG_LEVEL", "INFO") or "INFO").upper(),
        log_format=(_env("LOG_FORMAT", "text") or "text").lower(),
        shutdown_grace_seconds=float(_env("SHUTDOWN_GRACE_SECONDS", "25") or 25),
        delivery_retention_days=float(_env("DELIVERY_RETENTION_DAYS", "30") or 30),
        failed_delivery_retention_days=float(_env("FAILED_DELIVERY_RETENTION_DAYS", "90") or 90),
        plugin_request_retention_days=float(_env("PLUGIN_REQUEST_RETENTION_DAYS", "7") or 7),
        event_retention_days=float(_env("EVENT_RETENTION_DAYS", "400") or 400),
        retention_batch=max(1, int(_env("RETENTION_BATCH", "500") or 500)),
        metrics_token=_env("METRICS_TOKEN"),
        # --- replenishment ---
        replenishment_sweep_batch=max(1, int(_env("REPLENISHMENT_SWEEP_BATCH", "500") or 500)),
        replenishment_sweep_limit=max(1, int(_env("REPLENISHMENT_SWEEP_LIMIT", "2000") or 1)),
        replenishment_late_days=float(_env("REPLENISHMENT_LATE_DAYS", "14") or 14),
        replenishment_min_samples=max(1, int(_env("REPLENISHMENT_MIN_SAMPLES", "5") or 5)),
        # --- back in stock ---
        storefront_ip_per_minute=max(1, int(_env("STOREFRONT_IP_PER_MINUTE", "30") or 30)),
        storefront_email_per_hour=max(1, int(_env("STOREFRONT_EMAIL_PER_HOUR", "10") or 10)),
        # --- hardening ---
        live_order_max_age_days=float(_env("LIVE_ORDER_MAX_AGE_DAYS", "30") or 30),
        session_max_age_seconds=max(60, int(_env("SESSION_MAX_AGE_SECONDS", "43200") or 43200)),
        proxy_hops=max(0, int(_env("PROXY_HOPS", "0") or 0)),
        # --- shopify ---
        shopify_api_key=_env("SHOPIFY_API_KEY", "") or "",
        shopify_api_secret=_env("SHOPIFY_API_SECRET", "") or "",
        shopify_previous_api_secret=_env("SHOPIFY_PREVIOUS_API_SECRET", "") or "",
        shopify_base_url=(_env("SHOPIFY_BASE_URL", "") or "").rstrip("/"),
        shopify_api_version=_env("SHOPIFY_API_VERSION", "2026-07") or "2026-07",
        token_key=_env("TOKEN_KEY", "") or "",
        # --- commerce api ---
        commerce_api_per_minute=max(1, int(_env("COMMERCE_API_PER_MINUTE", "600") or 600)),
    )
