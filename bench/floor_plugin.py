"""The benchmark's floor: a bare endpoint in the same server (loaded via STOREFLOW_PLUGINS).

``POST /bench/floor`` verifies the WooCommerce HMAC over the raw body and inserts
the body into one table, in one transaction, and nothing else. The real endpoint's
throughput is reported as a ratio of this one, measured in the same run.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, abort, request
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table

from storeflow.core.hookspecs import hookimpl
from storeflow.providers.woocommerce import signature
from storeflow.web.runtime import rt

metadata = MetaData()
floor = Table(
    "bench_floor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", LargeBinary, nullable=False),
)
bp = Blueprint("bench_floor", __name__)


@bp.post("/bench/floor")
def receive() -> Response:
    body = request.get_data(cache=False)
    secret = os.environ["STOREFLOW_BENCH_SECRET"]
    if not signature.verify(body, request.headers.get("X-WC-Webhook-Signature"), secret):
        abort(401)
    with rt().unit_of_work() as session:
        session.execute(floor.insert().values(body=body))
    return Response('{"success":true}', mimetype="application/json")


@hookimpl
def register_blueprints(app):  # type: ignore[no-untyped-def]
    # The bench script creates the table before the server starts (workers would race).
    app.register_blueprint(bp)
