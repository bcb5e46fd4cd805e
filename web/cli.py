"""The ``storeflow`` command: operate the service from a shell.

This module holds the root group and ``main`` (the console script); the commands
live in ``storeflow.web.commands``, one module per area. Each command opens its own
unit of work; secrets are printed once and stored hashed where the contract allows it.
Plugins add commands of their own through the ``register_commands`` hook.
"""

from __future__ import annotations

from typing import Any

import click

from storeflow.core import config
from storeflow.core.errors import StoreflowError
from storeflow.web.commands import (
    accounts,
    database,
    demo,
    infrastructure,
    integrations,
    jobs,
    plugins,
    processes,
    rules,
    sync,
)


class _Group(click.Group):
    """Turn domain errors into a one-line message and exit code 1, not a traceback;
    infrastructure errors (no database, no schema, no Redis) into one line with a hint
    (``--traceback`` shows the whole story)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StoreflowError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from exc
        except Exception as exc:
            hint = infrastructure.explain(exc)
            if hint is None or ctx.meta.get(_TRACEBACK):
                raise
            raise click.ClickException(hint) from exc


_TRACEBACK = "storeflow.traceback"


def _keep_traceback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta[_TRACEBACK] = value


@click.group(cls=_Group)
@click.version_option(package_name="storeflow", prog_name="storeflow")
@click.option(
    "--traceback",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_keep_traceback,
    help="Show the full traceback of an infrastructure error.",
)
def cli() -> None:
    """storeflow: store traffic in, commerce events and sequences out."""


for _command in (
    database.db,
    accounts.companies,
    accounts.users,
    accounts.api_keys,
    integrations.integrations_group,
    integrations.deliveries,
    sync.sync_group,
    plugins.plugins_cmd,
    processes.serve,
    processes.worker,
    processes.dev,
    jobs.jobs_group,
    jobs.prune_cmd,
    rules.rules_group,
    demo.demo_cmd,
):
    cli.add_command(_command)


def main() -> None:
    from storeflow.core import plugins as plugin_module

    try:
        pm = plugin_module.build_plugin_manager(extra=config.load().plugins)
        pm.hook.register_commands(cli=cli)
    except plugin_module.PluginError as exc:
        click.echo(f"warning: {exc}", err=True)
    cli()
