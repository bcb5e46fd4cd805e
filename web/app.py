"""The Flask application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from storeflow.core.runtime import Runtime
from storeflow.core.work import tasks


def create_app(test_config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    app = Flask(__name__)
    rt = runtime or tasks.use_runtime(Runtime.build())
    app.config.from_mapping(
        SECRET_KEY=rt.settings.secret_key,
        # Webhooks and sync batches may be 5 MiB; storefront routes check a smaller limit.
        MAX_CONTENT_LENGTH=rt.settings.webhook_body_limit,
        JSON_SORT_KEYS=False,
        # The setup pages' session: not readable by scripts, not sent on cross-site POSTs.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=rt.settings.base_url.startswith("https://"),
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["storeflow"] = rt

    from storeflow.web import admin, errors, openapi, webhooks

    errors.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(openapi.bp)
    from storeflow.web import products, sync

    app.register_blueprint(sync.bp)
    app.register_blueprint(products.bp)
    from storeflow.web import integrations, setup, woocommerce_plugin

    app.register_blueprint(woocommerce_plugin.bp)
    app.register_blueprint(integrations.bp)
    app.register_blueprint(setup.bp)
    from storeflow.web import sequences, unsubscribe  # rules engine (issue 5)

    app.register_blueprint(sequences.bp)
    app.register_blueprint(unsubscribe.bp)
    rt.pm.hook.register_blueprints(app=app)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"success": True, "status": "ok"})

    return app
