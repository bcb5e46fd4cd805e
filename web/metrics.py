"""``GET /metrics``: the Prometheus text format (``prometheus_client``).

Two sources:

- **table state, read at scrape time** by :class:`TableCollector`: jobs by kind and
  status, the age of the oldest due pending job, deliveries by status, messages of the
  last day by channel and status, integrations by status and health. Computed from
  the database, so every web process answers the same and nothing drifts;
- **request counters** kept by each web process: requests by method, route and
  status, and their durations. Under ``storeflow serve`` several gunicorn workers
  share them through prometheus_client's multiprocess mode
  (``PROMETHEUS_MULTIPROC_DIR``, set by ``serve``), so a scrape sees the sum.

The numbers carry no tenant: one line per status, never per company. When
``STOREFLOW_METRICS_TOKEN`` is set the route wants ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storeflow.core import table_state
from storeflow.core.runtime import Runtime
from storeflow.web.errors import error_response

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)
EXTENSION = "storeflow.metrics"
# Messages are a ledger that only grows: /metrics counts those of the last day.
MESSAGE_WINDOW = timedelta(days=1)
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class TableCollector(Collector):
    """Gauges computed from the tables when Prometheus scrapes."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "storeflow_table_metrics_up", "1 when the table gauges could be read, else 0"
        )
        try:
            families = self._read()
        except Exception:  # the database is down: say so, never fail the scrape
            log.warning("could not read table state for /metrics", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        with self.rt.reading() as session:
            state = table_state.read(session, message_window=MESSAGE_WINDOW)
        jobs = GaugeMetricFamily(
            "storeflow_jobs", "Jobs in the outbox by kind and status", labels=["kind", "status"]
        )
        for kind, status, count in state.jobs:
            jobs.add_metric([kind, status], count)
        age = GaugeMetricFamily(
            "storeflow_job_oldest_pending_age_seconds",
            "How long the oldest due pending job has waited (0 when none waits)",
        )
        age.add_metric([], state.oldest_pending_seconds)
        deliveries = GaugeMetricFamily(
            "storeflow_deliveries", "Stored inbound deliveries by status", labels=["status"]
        )
        for delivery_status, count in state.deliveries:
            deliveries.add_metric([delivery_status], count)
        messages = GaugeMetricFamily(
            "storeflow_messages_last_day",
            "Messages created in the last 24 hours by channel and status",
            labels=["channel", "status"],
        )
        for channel, message_status, count in state.messages:
            messages.add_metric([channel, message_status], count)
        integrations = GaugeMetricFamily(
            "storeflow_integrations",
            "Store integrations by status and health",
            labels=["status", "health"],
        )
        for integration_status, health, count in state.integrations:
            integrations.add_metric([integration_status, health], count)
        return [jobs, age, deliveries, messages, integrations]


class _Metrics:
    """One app's request counters and the registry a scrape reads."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "storeflow_http_requests",
            "HTTP requests answered, by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "storeflow_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route",
            ["method", "route"],
            registry=self.registry,
        )
        self.tables = TableCollector(rt)
        # Without a describe(), registering never calls collect(): no query at start-up.
        self.registry.register(self.tables)

    def scrape_registry(self) -> CollectorRegistry:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return self.registry
        from prometheus_client import multiprocess

        # Every gunicorn worker's counters, summed from their files, and the tables.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(self.tables)
        return registry


def init_app(app: Flask, rt: Runtime) -> None:
    """Count every request; register ``/metrics``."""
    metrics = _Metrics(rt)
    app.extensions[EXTENSION] = metrics

    @app.before_request
    def _started() -> None:
        g.storeflow_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.pop("storeflow_started", None)
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        if started is not None:
            metrics.durations.labels(request.method, route).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(bp)


@bp.get("/metrics")
def scrape() -> Any:
    metrics: _Metrics = _current()
    token = metrics.rt.settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return error_response(401, "unauthenticated", "GET /metrics needs the metrics token")
    body = generate_latest(metrics.scrape_registry())
    return Response(body, content_type=TEXT_CONTENT_TYPE)


def _current() -> _Metrics:
    found: _Metrics = current_app.extensions[EXTENSION]
    return found
