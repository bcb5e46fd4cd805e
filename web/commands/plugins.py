"""``storeflow plugins``: what is loaded, and which hooks each plugin implements."""

from __future__ import annotations

import click

from storeflow.core import config, plugins


@click.command("plugins")
def plugins_cmd() -> None:
    """List loaded plugins and the hooks each implements."""
    pm = plugins.build_plugin_manager(extra=config.load().plugins)
    for item in plugins.describe(pm):
        version = f" {item['version']}" if item["version"] else ""
        module = f" ({item['module']})" if item["module"] not in (None, item["name"]) else ""
        click.echo(f"{item['name']}{module}{version}: {', '.join(item['hooks']) or '-'}")
