"""Every status a stored row can be in: one ``Literal`` per column, with its values.

The columns are annotated with these (``Mapped[JobStatus]``), so the type checker
refuses a misspelt status in a comparison or an assignment. A subset that a rule
needs (the orders that count as revenue, the commands still waiting) is named here
too, next to the status it is a subset of.
"""

from __future__ import annotations

from typing import Literal, get_args

# --- the outbox (``jobs``) -----------------------------------------------------------------

# pending -> running -> done | dead ; running with an expired lease is re-run.
JobStatus = Literal["pending", "running", "done", "dead"]
JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)

# --- inbound traffic -----------------------------------------------------------------------

# pending -> processed | ignored | failed (failed keeps its reason; replayable).
DeliveryStatus = Literal["pending", "processed", "ignored", "failed"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = get_args(DeliveryStatus)
# Nothing is left to do for these: a repeated delivery job does nothing.
DELIVERY_DONE: tuple[DeliveryStatus, ...] = ("processed", "ignored")

# --- stores --------------------------------------------------------------------------------

IntegrationStatus = Literal["pending", "connected", "disconnected"]
INTEGRATION_STATUSES: tuple[IntegrationStatus, ...] = get_args(IntegrationStatus)

# Recomputed by heartbeats and by the sweeper (``storeflow.core.stores.health``).
Health = Literal["healthy", "stale", "failing"]
HEALTHS: tuple[Health, ...] = get_args(Health)

# pending -> approved -> claimed ; pending -> denied ; pending | approved -> expired
ConnectStatus = Literal["pending", "approved", "denied", "claimed", "expired"]
CONNECT_STATUSES: tuple[ConnectStatus, ...] = get_args(ConnectStatus)
# Still undecided or unclaimed: these expire when their time is up.
CONNECT_OPEN: tuple[ConnectStatus, ...] = ("pending", "approved")

# requested -> delivered -> running -> completed | failed ; waiting -> cancelled
CommandStatus = Literal["requested", "delivered", "running", "completed", "failed", "cancelled"]
COMMAND_STATUSES: tuple[CommandStatus, ...] = get_args(CommandStatus)
# Handed out on every heartbeat until the plugin acknowledges ``started``.
COMMAND_WAITING: tuple[CommandStatus, ...] = ("requested", "delivered")
COMMAND_FINISHED: tuple[CommandStatus, ...] = ("completed", "failed", "cancelled")
# What the admin API shows: a waiting command is ``requested``, delivered or not.
CommandState = Literal["requested", "running", "completed", "failed", "cancelled"]
COMMAND_STATES: tuple[CommandState, ...] = get_args(CommandState)
# What a plugin acknowledges (``POST .../commands/<id>/ack``); ``started`` -> running.
CommandAck = Literal["started", "completed", "failed"]
COMMAND_ACKS: tuple[CommandAck, ...] = get_args(CommandAck)

# --- commerce ------------------------------------------------------------------------------

SubscriberStatus = Literal["active", "unsubscribed", "suppressed"]
SUBSCRIBER_STATUSES: tuple[SubscriberStatus, ...] = get_args(SubscriberStatus)
# Such a subscriber receives nothing: a run of theirs stops at its next step, and a new
# run stops at its first, before any step (even an internal one) has run. They are
# enrolled all the same, deliberately: the stopped run and its skipped step are the
# record of why nothing went out (storeflow.rules.suppressions, docs/decisions.md).
SUBSCRIBER_INACTIVE: tuple[SubscriberStatus, ...] = ("unsubscribed", "suppressed")

# The provider-agnostic state a provider maps its own order status to (``orders.state``).
OrderStatus = Literal["pending", "placed", "fulfilled", "cancelled", "refunded", "ignored"]
ORDER_STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)
# States that emit order events (``storeflow.core.commerce.orders``).
ORDER_LIVE: tuple[OrderStatus, ...] = ("placed", "fulfilled", "cancelled", "refunded")
# States whose orders count as revenue (``storeflow.core.commerce.profiles``).
ORDER_COUNTED: tuple[OrderStatus, ...] = ("placed", "fulfilled", "refunded")

# --- automation ----------------------------------------------------------------------------

SequenceStatus = Literal["active", "paused", "draft"]
SEQUENCE_STATUSES: tuple[SequenceStatus, ...] = get_args(SequenceStatus)

# How a run ended early: ``stopped`` by a stop condition, ``cancelled`` by a change
# to its sequence (deleted, a draft again).
EnrollmentStop = Literal["stopped", "cancelled"]
EnrollmentStatus = Literal["active", "completed", EnrollmentStop]
ENROLLMENT_STATUSES: tuple[EnrollmentStatus, ...] = get_args(EnrollmentStatus)

# The send ledger: queued -> sending -> sent | unknown | failed ; skipped (stopped or
# capped). ``queued`` waits (a capped email, a retry of a certain failure).
MessageStatus = Literal["queued", "sending", "sent", "unknown", "failed", "skipped"]
MESSAGE_STATUSES: tuple[MessageStatus, ...] = get_args(MessageStatus)
# Claims the frequency cap counts: everything that was or may have been sent.
MESSAGE_COUNTED: tuple[MessageStatus, ...] = ("sending", "sent", "unknown")
# What performing an external step can end as (``retry`` is not stored: it queues again).
MessageOutcome = Literal["sent", "unknown", "failed", "skipped"]

# A step of a run, as its history shows it. An email or webhook step mirrors its
# ledger row once claimed (``sending``, then a :data:`MessageOutcome`).
StepStatus = Literal[
    "scheduled", "delayed", "retrying", "paused", "sending", "done", MessageOutcome
]
STEP_STATUSES: tuple[StepStatus, ...] = get_args(StepStatus)
# The step has not happened yet: it has no ``done_at``.
STEP_WAITING: tuple[StepStatus, ...] = ("scheduled", "sending", "delayed", "retrying", "paused")
