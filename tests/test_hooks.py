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
from tests.kinds import FnKind

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
    from storeflow.rules import steps

    actions = steps.actions(rt)
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
    from storeflow.core.work import outbox

    seen = []

    class Watcher:
        @hookimpl
        def job_started(self, kind, job_id, attempt):
            seen.append((kind, job_id, attempt))

    rt.pm.register(Watcher(), name="watcher")
    rt.job_kinds["test-noop"] = FnKind("test-noop", lambda rt_, session, job: None)
    waker, rt.waker = rt.waker, None
    try:
        with rt.unit_of_work() as session:
            job_id = outbox.add(session, company_id=tenant.company_id, kind="test-noop", key="w")
        tasks.execute(rt, job_id)
    finally:
        rt.waker = waker
        rt.pm.unregister(name="watcher")
        del rt.job_kinds["test-noop"]
    assert seen == [("test-noop", job_id, 1)]


def test_storeflow_plugins_lists_plugins_and_hooks():
    from storeflow.web.cli import cli

    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "woocommerce" in result.output and "register_providers" in result.output
    assert "storeflow.rules.actions" in result.output and "register_actions" in result.output


# --- explicit wiring: job kinds, sweeps and event consumers come from plugins ----------


def test_hook_register_job_kinds(settings, tenant_for):
    from storeflow.core.runtime import Runtime
    from storeflow.core.work import outbox

    ran = []

    class KindPlugin:
        @hookimpl
        def register_job_kinds(self):
            return [FnKind("test-plugin-kind", lambda rt_, session, job: ran.append(job.key))]

    rt = Runtime.build(settings, extra_plugins=[KindPlugin()])
    try:
        # The built-ins arrive the same way: core's kinds, and the rules engine's by entry point.
        assert {"delivery", "event", "step", "test-plugin-kind"} <= set(rt.job_kinds)
        rt.waker = None
        company_id = tenant_for(rt)
        with rt.unit_of_work() as session:
            job_id = outbox.add(session, company_id=company_id, kind="test-plugin-kind", key="k1")
        assert tasks.execute(rt, job_id)
        assert ran == ["k1"]
    finally:
        rt.close()


def test_a_job_kind_no_plugin_registers_fails_with_its_name(rt, tenant):
    from storeflow.core.storage.tables import Job
    from storeflow.core.work import outbox

    rt.waker = None
    with rt.unit_of_work() as session:
        job_id = outbox.add(session, company_id=tenant.company_id, kind="nobody", key="n")
    tasks.execute(rt, job_id)
    with rt.unit_of_work() as session:
        error = session.get_one(Job, job_id).last_error or ""
    assert "no plugin registers the job kind 'nobody'" in error


def test_two_plugins_registering_one_job_kind_fail_loudly(settings):
    from storeflow.core.runtime import Runtime
    from storeflow.core.work.jobs import WiringError

    class Again:
        @hookimpl
        def register_job_kinds(self):
            return [FnKind("delivery", lambda rt_, session, job: None)]

    with pytest.raises(WiringError, match="delivery"):
        Runtime.build(settings, extra_plugins=[Again()])


def test_hook_register_sweeps(settings, tenant_for):
    from storeflow.core.runtime import Runtime
    from storeflow.core.work.jobs import Sweep

    seen = []

    class SweepPlugin:
        @hookimpl
        def register_sweeps(self):
            return [Sweep("test-sweep", lambda rt_, session: seen.append(session.is_active))]

    rt = Runtime.build(settings, extra_plugins=[SweepPlugin()])
    try:
        names = {sweep.name for sweep in rt.sweeps}
        # Core's own sweeps are registered by its built-in plugin, not by imports.
        assert {"connect-request-expiry", "integration-health", "sync-command-timeout"} <= names
        tasks.sweep(rt)
        assert seen == [True]  # ran inside the sweeper's transaction
    finally:
        rt.close()


def test_hook_register_event_consumers(settings, tenant_for):
    from datetime import UTC, datetime

    from storeflow.core.commerce import events
    from storeflow.core.runtime import Runtime

    seen = []

    class Recorder:
        name = "recorder"

        def on_event(self, rt_, session, event):
            seen.append((event.name, event.live))

    class ConsumerPlugin:
        @hookimpl
        def register_event_consumers(self):
            return [Recorder()]

    rt = Runtime.build(settings, extra_plugins=[ConsumerPlugin()])
    try:
        # Consumers run in name order, the plugin's among core's and the rules engine's.
        names = [c.name for c in rt.event_consumers]
        assert names == ["carts", "recorder", "replenishment", "rules", "waitlists"]
        company_id = tenant_for(rt)
        when = datetime(2026, 1, 1, tzinfo=UTC)
        with rt.unit_of_work() as session:
            for key, live in (("live-1", True), ("historical-1", False)):
                events.append(
                    session,
                    company_id=company_id,
                    name="ecommerce.order_placed",
                    key=key,
                    occurred_at=when,
                    subscriber=None,
                    properties={},
                    live=live,
                )
        tasks.drain(rt)
        assert seen == [("ecommerce.order_placed", True)]  # historical events start nothing
    finally:
        rt.close()


@pytest.fixture
def tenant_for():
    from tests.conftest import make_tenant

    return lambda runtime: make_tenant(runtime, "hooks").company_id
