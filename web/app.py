"""The Flask application factory."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from storeflow.core import config
from storeflow.core.runtime import Runtime
from storeflow.web import (
    admin,
    commerce_api,
    errors,
    health,
    integrations,
    metrics,
    openapi,
    products,
    sequences,
    setup,
    shopify,
    storefront,
    sync,
    unsubscribe,
    webhooks,
    woocommerce_events,
    woocommerce_plugin,
)
from storeflow.web import runtime as web_runtime

# --- admin pages (issue 15): server-rendered HTML for signed-in users
from storeflow.web.pages import automations as pages_automations
from storeflow.web.pages import catalogue as pages_catalogue
from storeflow.web.pages import home as pages_home
from storeflow.web.pages import operations as pages_operations
from storeflow.web.pages import people as pages_people
from storeflow.web.pages import stores as pages_stores

BLUEPRINTS = (
    webhooks.bp,
    admin.bp,
    openapi.bp,
    sync.bp,
    products.bp,
    woocommerce_plugin.bp,
    integrations.bp,
    setup.bp,
    sequences.bp,
    unsubscribe.bp,
    storefront.bp,
    woocommerce_events.bp,
    commerce_api.bp,  # --- commerce api (issue 13)
    shopify.bp,  # --- shopify (issue 14)
    # --- admin pages (issue 15)
    pages_home.bp,
    pages_stores.bp,
    pages_catalogue.bp,
    pages_people.bp,
    pages_automations.bp,
    pages_operations.bp,
)


class MissingSecretKey(RuntimeError):
    pass


def create_app(test_config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app around ``runtime`` (or one built from the environment)."""
    rt = runtime or Runtime.build(config.load())
    if not rt.settings.secret_key:
        raise MissingSecretKey(
            "no session key: set STOREFLOW_SECRET_KEY, or run `storeflow db upgrade` "
            f"once to generate {rt.settings.var_dir / config.SECRET_KEY_FILE}"
        )
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=rt.settings.secret_key,
        # Webhooks and sync batches may be 5 MiB; storefront routes check a smaller limit.
        MAX_CONTENT_LENGTH=rt.settings.webhook_body_limit,
        JSON_SORT_KEYS=False,
        # The setup pages' session: not readable by scripts, not sent on cross-site POSTs.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=rt.settings.base_url.startswith("https://"),
        # --- hardening: the signed cookie itself expires with the session's maximum age.
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=rt.settings.session_max_age_seconds),
    )
    if rt.settings.proxy_hops:
        # --- hardening: behind N trusted proxies the client is the Nth address from the
        # right of X-Forwarded-For (rate limits key on it); never trusted without proxies.
        hops = rt.settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    if test_config:
        app.config.update(test_config)
    web_runtime.init_app(app, rt)
    errors.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    rt.pm.hook.register_blueprints(app=app)
    # --- operations: /healthz, /readyz; /metrics and the request counters
    app.register_blueprint(health.bp)
    metrics.init_app(app, rt)
    return app
