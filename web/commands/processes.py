"""``storeflow serve``, ``worker`` and ``dev``: the long-running processes."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from storeflow.core import config
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

    _prepare(config.load())  # the workers read the session key the first run generates

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)
            self.cfg.set("timeout", 60)
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
    """Run the Huey consumer, with the sweeper (timers, lost and expired jobs)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    rt = _runtime()
    assert rt.huey is not None and rt.tasks is not None and rt.tasks.sweep_now is not None
    url = _safe_url(rt.settings.database_url)

    @rt.huey.on_startup()
    def ready() -> None:
        log.info("worker thread ready: database %s, job kinds %s", url, sorted(rt.job_kinds))

    consumer = rt.huey.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=not no_periodic,
        # A lock held by a killed consumer would block the sweeper forever on SqliteHuey.
        flush_locks=True,
        check_worker_health=True,
    )
    if not no_periodic:
        _start_sweep_ticker(rt.tasks.sweep_now, rt.settings.sweep_seconds)
    consumer.run()


def _start_sweep_ticker(sweep_now: Callable[[], object], interval: float) -> None:
    """Huey's periodic tasks tick once a minute; delays and leases need finer sweeps."""

    def tick() -> None:
        while True:
            time.sleep(interval)
            try:
                sweep_now()
            except Exception:  # the queue may be briefly unavailable; try next tick
                log.warning("could not queue a sweep; trying again next tick", exc_info=True)

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
