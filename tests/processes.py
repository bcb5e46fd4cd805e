"""Helpers to run real storeflow processes (web server, consumer) in tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
STOREFLOW = str(Path(sys.executable).with_name("storeflow"))


def process_env(settings: Any, **extra: str) -> dict[str, str]:
    """Environment for a child process that shares the test's database."""
    from tests.conftest import TEST_REDIS_URL

    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STOREFLOW_") or k.startswith("STOREFLOW_TEST_")
    }
    env = {
        **inherited,
        "STOREFLOW_VAR_DIR": str(settings.var_dir),
        "STOREFLOW_DATABASE_URL": settings.database_url,
        "STOREFLOW_QUEUE_IMMEDIATE": "0",
        "STOREFLOW_SECRET_KEY": "test-secret-key",
        "PYTHONPATH": str(ROOT),
    }
    if TEST_REDIS_URL:
        env["STOREFLOW_REDIS_URL"] = TEST_REDIS_URL
    env.update(extra)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        [STOREFLOW, *args], env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def wait_http(url: str, timeout: float = 30.0) -> None:
    def up() -> bool:
        try:
            return requests.get(url, timeout=1).ok
        except requests.RequestException:
            return False

    if not wait_until(up, timeout):
        raise RuntimeError(f"{url} did not come up")


@contextmanager
def web_and_worker(rt: Any, log: Path, **extra: str) -> Iterator[str]:
    """`storeflow serve` (2 workers) and `storeflow worker` on ``rt``'s database and mail
    server, with a fresh Redis when the run has one; yields the service's base URL."""
    from tests.conftest import TEST_REDIS_URL, free_port

    rt.waker = None  # the processes do the work; the test's runtime only reads
    if TEST_REDIS_URL:
        import redis

        redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = process_env(
        rt.settings, STOREFLOW_SMTP_URL=rt.settings.smtp_url, STOREFLOW_BASE_URL=base, **extra
    )
    web = start(["serve", "--port", str(port), "--workers", "2"], env, log)
    worker = start(["worker"], env, log)
    try:
        wait_http(f"{base}/healthz")
        yield base
    finally:
        stop(web)
        stop(worker)
