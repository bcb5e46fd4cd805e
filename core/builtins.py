"""Core's own contributions, registered as a plugin like any other.

The plugin manager registers this module first (``storeflow.core.plugins``), as
datasette registers its built-in features: the ``delivery`` and ``event`` job
kinds, and the sweeps that keep connection requests, integration health and
sync commands current.
"""

from __future__ import annotations

from storeflow.core.commerce import carts, replenishment, waitlists
from storeflow.core.commerce.consumers import EventConsumer
from storeflow.core.commerce.events import EVENT_JOBS
from storeflow.core.commerce.ingest import DELIVERY_JOBS
from storeflow.core.hookspecs import hookimpl
from storeflow.core.stores import commands, connections, health
from storeflow.core.work import retention
from storeflow.core.work.jobs import AnyKind, Sweep


@hookimpl
def register_job_kinds() -> list[AnyKind]:
    return [DELIVERY_JOBS, EVENT_JOBS, waitlists.NOTIFY_JOBS, waitlists.SOLD_OUT_JOBS]


@hookimpl
def register_sweeps() -> list[Sweep]:
    return [
        Sweep("connect-request-expiry", connections.expire_requests),
        Sweep("integration-health", health.sweep),
        Sweep("sync-command-timeout", commands.time_out_running),
        Sweep("replenishment-due", replenishment.sweep),
        # --- carts: abandonment timers and anonymous-cart expiry
        Sweep("cart-abandonment", carts.sweep_abandoned),
        Sweep("cart-expiry", carts.sweep_expired),
        # --- operations: old raw deliveries, plugin answers and events, in batches
        Sweep("retention", retention.sweep),
    ]


@hookimpl
def register_event_consumers() -> list[EventConsumer]:
    # Buying a variant ends the buyer's back-in-stock entry for it.
    # Live orders schedule and cancel replenishment reminders.
    # Purchase wins: an order ends the buyer's carts and may be recovered revenue.
    return [waitlists.PURCHASES, replenishment.SCHEDULER, carts.CART_RECOVERY]
