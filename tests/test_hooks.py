"""Every hook is tested (a test named ``test_hook_<name>``) and documented.

Modelled on datasette's meta-tests: adding a hook spec without a test or without
its section in ``docs/plugin_hooks.md`` fails the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from storeflow.core import hookspecs, plugins
from storeflow.core.hookspecs import hookimpl
from storeflow.core.work import tasks

HOOKS = sorted(
    name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "storeflow_spec")
)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugin_hooks.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert f"test_hook_{hook}" in dir(sys.modules[__name__])


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    import inspect

    spec = getattr(hookspecs, hook)
    args = ", ".join(inspect.signature(spec).parameters)
    assert f"### {hook}({args})" in DOCS.read_text()


def test_hook_register_providers():
    pm = plugins.build_plugin_manager()
    providers = plugins.providers(pm)
    assert "woocommerce" in providers
    # Built-in providers come through the entry-point group, like third-party ones.
    from_entry_points = {id(plugin) for plugin, _dist in pm.list_plugin_distinfo()}
    for name in ("woocommerce", "shopify"):
        assert id(pm.get_plugin(name)) in from_entry_points

    class Extra:
        name = "acme-shop"

    class ExtraPlugin:
        @hookimpl
        def register_providers(self):
            return [Extra()]

    pm = plugins.build_plugin_manager(extra=[ExtraPlugin()])
    assert "acme-shop" in plugins.providers(pm)


def test_two_providers_with_one_name_fail_loudly():
    class Dup:
        name = "woocommerce"

    class DupPlugin:
        @hookimpl
        def register_providers(self):
            return [Dup()]

    pm = plugins.build_plugin_manager(extra=[DupPlugin()])
    with pytest.raises(plugins.PluginError, match="woocommerce"):
        plugins.providers(pm)


def test_unknown_hook_implementation_is_reported_by_name():
    class Typo:
        @hookimpl
        def register_provider(self):  # missing "s"
            return []

    with pytest.raises(plugins.PluginError, match="register_provider"):
        plugins.build_plugin_manager(extra=[Typo()])


def test_hook_register_actions(rt):
    from storeflow.rules import runner

    actions = runner._actions(rt)
    assert {"email", "tag"} <= set(actions)
    assert actions["email"].external and not actions["tag"].external


def test_hook_register_commands():
    from storeflow.web.cli import cli

    class CommandPlugin:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello-plugin")
            def hello() -> None:
                click.echo("hello from a plugin")

    pm = plugins.build_plugin_manager(extra=[CommandPlugin()])
    pm.hook.register_commands(cli=cli)
    try:
        result = CliRunner().invoke(cli, ["hello-plugin"])
        assert result.exit_code == 0, result.output
        assert "hello from a plugin" in result.output
    finally:
        cli.commands.pop("hello-plugin", None)


def test_hook_register_blueprints(rt):
    from flask import Blueprint
    from storeflow.web.app import create_app

    class RoutePlugin:
        @hookimpl
        def register_blueprints(self, app):
            bp = Blueprint("hello_plugin", __name__)
            bp.add_url_rule("/hello-plugin", "hello", lambda: "hi")
            app.register_blueprint(bp)

    rt.pm.register(RoutePlugin(), name="route-plugin")
    try:
        client = create_app({"TESTING": True}, runtime=rt).test_client()
        assert client.get("/hello-plugin").get_data(as_text=True) == "hi"
    finally:
        rt.pm.unregister(name="route-plugin")


def test_hook_job_started(rt, tenant):
    from storeflow.core.work import jobs, outbox

    seen = []

    class Watcher:
        @hookimpl
        def job_started(self, kind, job_id, attempt):
            seen.append((kind, job_id, attempt))

    rt.pm.register(Watcher(), name="watcher")
    jobs.HANDLERS["test-noop"] = lambda rt_, session, job: None
    waker, rt.waker = rt.waker, None
    try:
        with rt.unit_of_work() as session:
            job_id = outbox.add(session, company_id=tenant.company_id, kind="test-noop", key="w")
        tasks.execute(rt, job_id)
    finally:
        rt.waker = waker
        rt.pm.unregister(name="watcher")
        del jobs.HANDLERS["test-noop"]
    assert seen == [("test-noop", job_id, 1)]


def test_storeflow_plugins_lists_plugins_and_hooks():
    from storeflow.web.cli import cli

    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "woocommerce" in result.output and "register_providers" in result.output
    assert "storeflow.rules.actions" in result.output and "register_actions" in result.output
