"""``storeflow serve``, ``worker`` and ``dev``: the long-running processes."""

from __future__ import annotations

import logging
import logging.config
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from huey.consumer import Consumer

from storeflow.core import config, logs
from storeflow.core.storage import migrate
from storeflow.core.storage.migrate import display_url as _safe_url
from storeflow.web.commands import _prepare, _runtime

log = logging.getLogger("storeflow.worker")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=2, show_default=True)
def serve(host: str, port: int, workers: int) -> None:
    """Run the web server (gunicorn)."""
    from gunicorn.app.base import BaseApplication

    # The workers read the session key the first run generates; a bad setting stops here,
    # in one line, rather than in every gunicorn worker.
    settings = _prepare(config.check(config.load()))
    log_config = _log_config(settings)
    _metrics_dir(settings)

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # The access log goes through our logging configuration (format, level).
            self.cfg.set("accesslog", "-")
            self.cfg.set("logconfig_dict", log_config)
            self.cfg.set("loglevel", settings.log_level.lower())
            self.cfg.set("child_exit", _worker_exited)
            self.cfg.set("timeout", 60)
            # --- hardening: gunicorn's limits above the app's (storeflow.web.errors), so
            # an oversized request line or header reaches the app and gets the contract's
            # JSON 414/431 rather than gunicorn's HTML. 8190 is the longest request line
            # gunicorn accepts; headers stay bounded (fields x field size).
            self.cfg.set("limit_request_line", 8190)
            self.cfg.set("limit_request_fields", 200)
            self.cfg.set("limit_request_field_size", 32768)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn >= 23 opens one control socket per user by default; servers
                # on the same machine would share it. Operators use signals instead.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            from storeflow.web.app import create_app

            return create_app()

    _App().run()


@click.command()
@click.option("--workers", default=2, show_default=True, help="Consumer worker threads.")
@click.option("--no-periodic", is_flag=True, help="Leave sweeping to another consumer.")
def worker(workers: int, no_periodic: bool) -> None:
    """Run the Huey consumer, with the sweeper (timers, lost and expired jobs).

    SIGTERM and SIGINT stop it gracefully: running jobs get STOREFLOW_SHUTDOWN_GRACE_SECONDS
    to finish (a send in flight completes and is recorded); a second signal stops at once.
    """
    logging.config.dictConfig(_log_config(config.load()))
    rt = _runtime()
    assert rt.huey is not None and rt.tasks is not None and rt.tasks.sweep_now is not None
    url = _safe_url(rt.settings.database_url)

    @rt.huey.on_startup()
    def ready() -> None:
        log.info("worker thread ready: database %s, job kinds %s", url, sorted(rt.job_kinds))

    consumer = _GracefulConsumer(
        rt.huey,
        workers=workers,
        worker_type="thread",
        periodic=not no_periodic,
        # A lock held by a killed consumer would block the sweeper forever on SqliteHuey.
        flush_locks=True,
        check_worker_health=True,
        # Huey stops at once on SIGTERM by default; deploys (systemd, Kubernetes) send it.
        graceful_signal="TERM",
        shutdown_timeout=rt.settings.shutdown_grace_seconds,
    )
    rt.tasks.stopping = consumer.stop_flag.is_set
    if not no_periodic:
        _start_sweep_ticker(rt.tasks.sweep_now, rt.settings.sweep_seconds)
    consumer.run()
    log.info("worker stopped")


class _GracefulConsumer(Consumer):  # type: ignore[misc]  # huey ships no types
    """Huey's consumer with SIGINT (Ctrl-C) graceful too, like SIGTERM.

    Huey has one graceful signal; its main loop shuts down gracefully on
    ``KeyboardInterrupt``, and a second one during the wait stops at once.
    """

    def start(self) -> None:
        super().start()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _log_config(settings: config.Settings) -> dict[str, Any]:
    try:
        return logs.config_dict(settings.log_level, settings.log_format)
    except logs.BadLogSetting as exc:
        raise click.ClickException(str(exc)) from exc


def _metrics_dir(settings: config.Settings) -> None:
    """Several gunicorn workers share request counters through files in one directory
    (prometheus_client's multiprocess mode), emptied when the server starts."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    path = settings.var_dir / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def _worker_exited(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _start_sweep_ticker(sweep_now: Callable[[], object], interval: float) -> None:
    """Huey's periodic tasks tick once a minute; delays and leases need finer sweeps."""

    def tick() -> None:
        while True:
            time.sleep(interval)
            try:
                sweep_now()
            except Exception:  # the queue may be briefly unavailable; try next tick
                log.exception("could not queue a sweep; trying again next tick")

    threading.Thread(target=tick, name="storeflow-sweep-ticker", daemon=True).start()


@click.command()
@click.option("--port", default=8000, show_default=True)
def dev(port: int) -> None:
    """Migrate, seed a demo company, then run the web server and a worker together."""
    import os
    import signal
    import subprocess

    from storeflow.web import demo

    # Links (demo.json, authorize URLs) must point at this server unless told otherwise.
    os.environ.setdefault("STOREFLOW_BASE_URL", f"http://127.0.0.1:{port}")
    settings = _prepare(config.load())
    migrate.upgrade(settings.database_url)
    info = demo.seed(_runtime())
    click.echo(f"""
storeflow is starting
  web:          http://127.0.0.1:{port}/  (OpenAPI: /api/openapi.json)
  database:     {_safe_url(settings.database_url)}
  admin key:    {info["apiKey"]}
  demo store:   webhooks to /api/woocommerce/webhooks/{info["integrationId"]}
  owner login:  {info["ownerEmail"]} / {info["ownerPassword"] or "(unchanged since the first run)"}
  try:          make demo   (in another terminal)
""")
    env = dict(os.environ)
    exe = str(Path(sys.executable).with_name("storeflow"))  # the venv's own script
    procs = [
        subprocess.Popen([exe, "serve", "--port", str(port)], env=env),
        subprocess.Popen([exe, "worker"], env=env),
    ]
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
