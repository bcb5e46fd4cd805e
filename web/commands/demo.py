"""``storeflow demo``: replay a scripted WooCommerce store against the running service."""

from __future__ import annotations

import json

import click

from storeflow.core import config


@click.command("demo")
@click.option("--url", default=None, help="Base URL of the running service.")
def demo_cmd(url: str | None) -> None:
    """Replay a scripted WooCommerce store against the running service."""
    from storeflow.web import demo

    path = config.load().var_dir / "demo.json"
    if not path.exists():
        raise click.ClickException("no var/demo.json: start the service with `make run` first")
    info = json.loads(path.read_text())
    if url:
        info["baseUrl"] = url.rstrip("/")
    demo.replay(info)
