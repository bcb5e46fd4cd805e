"""The 2xx bodies of the HTTP API as attrs classes; the routes answer through them.

A route builds one of these, or loads the dict a core function made into one
(:func:`load`), and answers with :func:`respond` (:func:`dump` for plugin routes).
``storeflow.web.openapi`` derives the documented 2xx schemas from the same classes
(``storeflow.web.apischema``), so the document and the answers cannot drift apart.
:func:`load` is strict about keys: a key the class does not declare, or one it
lacks, is an error, so a core function that grows a field fails the tests until the
class (and so the document) has it.

Every field is always present (``null`` when empty) unless its metadata says
``omit_none``: then it is left out when ``None``. Parts that are passed through
unchanged (a sequence definition, merged profile attributes, dry-run results) are
typed ``dict`` with ``documented_as`` naming the type that describes them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from flask import Response, jsonify

from storeflow.core import statuses
from storeflow.rules import capping
from storeflow.rules import schema as rule_schema
from storeflow.web.apischema import Keywords, one_of, output, wire_name

T = TypeVar("T")

Timestamp = Annotated[str, Keywords(format="date-time")]


def _omit(doc: str | None = None) -> Any:
    metadata: dict[str, Any] = {"omit_none": True}
    if doc:
        metadata["doc"] = doc
    return attrs.field(default=None, metadata=metadata)


def _as(documented: Any, doc: str | None = None) -> Any:
    metadata: dict[str, Any] = {"documented_as": documented}
    if doc:
        metadata["doc"] = doc
    return attrs.field(metadata=metadata)


@output
@attrs.frozen(kw_only=True)
class Ok:
    success: Literal[True] = True


# --- events and subscriber profiles ----------------------------------------------------


@output
@attrs.frozen(kw_only=True)
class Event:
    id: int
    name: str
    occurred_at: Timestamp
    email: str | None
    provider: str | None
    integration_id: str | None
    live: bool = attrs.field(metadata={"doc": "false for history replayed by a store sync"})
    properties: dict[str, Any]


@output
@attrs.frozen(kw_only=True)
class EventList(Ok):
    events: list[Event]
    total: int


@output
@attrs.frozen(kw_only=True)
class EventResponse(Ok):
    event: Event


@output
@attrs.frozen(kw_only=True)
class Subscriber:
    id: int
    email: str
    first_name: str
    last_name: str
    status: statuses.SubscriberStatus
    tags: list[str]
    created_at: Timestamp


@output
@attrs.frozen(kw_only=True)
class RevenueAttributes:
    """Revenue attributes computed from the counted orders, amounts in major units."""

    orders_count: int
    total_spent: float
    ltv: float
    aov: float
    currency: str | None
    first_order_at: Timestamp | None
    last_order_at: Timestamp | None


@output
@attrs.frozen(kw_only=True)
class StoreProfile:
    integration_id: str
    provider: str
    store_url: str
    attributes: RevenueAttributes


@output
@attrs.frozen(kw_only=True)
class PurchasedProduct:
    integration_id: str
    provider: str
    provider_product_id: str
    provider_variant_id: str
    quantity: int
    title: str
    variant_title: str
    image_url: str | None
    url: str | None
    last_purchased_at: Timestamp


@output
@attrs.frozen(kw_only=True)
class ReplenishmentReminder:
    provider: str
    provider_product_id: str
    provider_variant_id: str
    title: str
    due_at: Timestamp
    order_id: str


@output
@attrs.frozen(kw_only=True)
class WaitlistEntry:
    provider: str
    provider_product_id: str
    provider_variant_id: str
    product_title: str
    variant_title: str | None
    status: Annotated[str, one_of("waiting", "notified")]
    requested_at: Timestamp


@output
@attrs.frozen(kw_only=True)
class WaitlistPacing:
    per_unit: int = attrs.field(metadata={"doc": "shoppers notified per unit of stock"})
    interval_minutes: int = attrs.field(metadata={"doc": "between waves while stock remains"})


@output
@attrs.frozen(kw_only=True)
class WaitlistSettings:
    rearm: bool = attrs.field(metadata={"doc": "re-arm entries when the variant sells out again"})
    backorders_in_stock: bool = attrs.field(metadata={"doc": "onbackorder counts as in stock"})
    pacing: WaitlistPacing | None = None


@output
@attrs.frozen(kw_only=True)
class WaitlistSettingsResponse(Ok):
    settings: WaitlistSettings


@output
@attrs.frozen(kw_only=True)
class SubscriberProfile(Ok):
    subscriber: Subscriber
    attributes: dict[str, Any] = _as(
        RevenueAttributes, "the stored attributes with the revenue attributes computed now"
    )
    stores: list[StoreProfile]
    purchased_products: list[PurchasedProduct]
    replenishment: list[ReplenishmentReminder]
    waitlists: list[WaitlistEntry]
    recent_events: list[Event]


# --- integrations, connect requests, plugin commands -------------------------------------


@output
@attrs.frozen(kw_only=True)
class CommandState:
    """A plugin command as the admin API shows it."""

    command_id: str
    type: str
    state: statuses.CommandState
    reason: str
    resources: list[str]
    detail: str | None
    deliveries: int
    requested_at: Timestamp | None
    delivered_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None


@output
@attrs.frozen(kw_only=True)
class Integration:
    id: str
    provider: str
    store_url: str
    name: str
    status: statuses.IntegrationStatus
    health: statuses.Health
    health_reasons: list[str]
    last_seen_at: Timestamp | None
    plugin_version: str | None
    wp_version: str | None
    wc_version: str | None
    last_sync_at: Timestamp | None
    last_sync_error: str | None
    sync: CommandState | None = attrs.field(metadata={"doc": "the latest sync command"})
    connected_at: Timestamp | None
    disconnected_at: Timestamp | None
    disconnect_reason: str | None
    created_at: Timestamp | None


@output
@attrs.frozen(kw_only=True)
class QueueCounts:
    pending: int
    failed: int


@output
@attrs.frozen(kw_only=True)
class DeliveryFailure:
    delivery_id: int
    kind: str
    topic: str | None
    received_at: Timestamp
    error: str | None


@output
@attrs.frozen(kw_only=True)
class Diagnostics:
    """What the plugin last reported, and recent failures and commands."""

    queue: QueueCounts | None
    last_error: str | None
    reported_store_url: str | None
    last_heartbeat_at: Timestamp | None
    recent_failures: list[DeliveryFailure]
    recent_commands: list[CommandState]


@output
@attrs.frozen(kw_only=True)
class IntegrationDetail(Integration):
    diagnostics: Diagnostics


@output
@attrs.frozen(kw_only=True)
class IntegrationList(Ok):
    integrations: list[Integration]
    total: int


@output
@attrs.frozen(kw_only=True)
class IntegrationDetailResponse(Ok):
    integration: IntegrationDetail


@output
@attrs.frozen(kw_only=True)
class IntegrationResponse(Ok):
    integration: Integration


@output
@attrs.frozen(kw_only=True)
class SyncQueued(Ok):
    queued: bool = attrs.field(metadata={"doc": "false: a waiting sync command is returned"})
    command: CommandState


@output
@attrs.frozen(kw_only=True)
class ConnectRequest:
    id: str
    provider: str
    store_url: str
    site_name: str
    status: statuses.ConnectStatus
    company_id: int | None
    integration_id: str | None
    created_at: Timestamp
    expires_at: Timestamp
    decided_at: Timestamp | None


@output
@attrs.frozen(kw_only=True)
class ConnectApproved(Ok):
    connect_request: ConnectRequest
    integration: Integration


@output
@attrs.frozen(kw_only=True)
class ConnectDenied(Ok):
    connect_request: ConnectRequest


# --- the WooCommerce plugin protocol --------------------------------------------------------


@output
@attrs.frozen(kw_only=True)
class ConnectStarted(Ok):
    connect_request_id: str
    poll_token: str
    authorize_url: str
    expires_at: Timestamp
    poll_interval_seconds: int


@output
@attrs.frozen(kw_only=True)
class PollAnswer(Ok):
    """The credentials are present once: on the first poll after approval."""

    status: Annotated[str, one_of("pending", "approved", "denied", "expired")]
    installation_token: str | None = _omit()
    signing_secret: str | None = _omit("Standard Webhooks secret, whsec_<base64>")
    webhook_secret: str | None = _omit("signs the store's native webhooks")
    integration_id: str | None = _omit()
    company_id: int | None = _omit()


@output
@attrs.frozen(kw_only=True)
class WireCommand:
    """A command as the plugin receives it."""

    id: str
    type: str
    resources: list[str]
    requested_at: Timestamp | None


@output
@attrs.frozen(kw_only=True)
class HeartbeatAnswer(Ok):
    commands: list[WireCommand]
    server_time: Timestamp


@output
@attrs.frozen(kw_only=True)
class AckAnswer(Ok):
    command: CommandState


@output
@attrs.frozen(kw_only=True)
class WebhookReceived(Ok):
    """``ping`` answers the creation ping; otherwise ``duplicate`` and ``deliveryId``."""

    ping: bool | None = _omit()
    duplicate: bool | None = _omit()
    delivery_id: int | None = _omit()


# --- sync and the catalogue ----------------------------------------------------------------


@output
@attrs.frozen(kw_only=True)
class ItemFailure:
    index: int
    id: str | None
    code: str
    message: str


@output
@attrs.frozen(kw_only=True)
class SyncBatchResult(Ok):
    """accepted + len(failed) = len(items); accepted = upserted + skippedStale + ignored."""

    accepted: int
    upserted: int
    skipped_stale: int
    unchanged: int
    ignored: int
    failed: list[ItemFailure]
    run_finished: bool


@output
@attrs.frozen(kw_only=True)
class SyncRun:
    sync_run_id: str
    integration_id: str
    resource: str
    pages: int
    last_page: int | None
    items: int
    upserted: int
    skipped_stale: int
    ignored: int
    failed: int
    last_error: str | None
    started_at: Timestamp
    updated_at: Timestamp
    finished_at: Timestamp | None


@output
@attrs.frozen(kw_only=True)
class SyncRuns(Ok):
    integration_id: str
    last_sync_at: Timestamp | None
    last_sync_error: str | None
    sync_runs: list[SyncRun]
    total: int


@output
@attrs.frozen(kw_only=True)
class Waitlist:
    waiting: int = 0
    notified: int = 0


@output
@attrs.frozen(kw_only=True)
class Replenishment:
    enabled: bool = False
    days: int | None = None
    match: Annotated[str, one_of("product", "variant")] = "product"
    # An extension of the contract's shape, so present only when on.
    multiply_by_quantity: Literal[True] | None = _omit("due after days x the quantity bought")
    suggested_days: int | None = attrs.field(
        default=None,
        metadata={"doc": "median days between repeat purchases; null until sampleSize suffices"},
    )
    sample_size: int = attrs.field(
        default=0, metadata={"doc": "repeat-purchase intervals behind suggestedDays"}
    )


@output
@attrs.frozen(kw_only=True)
class Variant:
    provider_variant_id: str
    title: str
    sku: str
    price_cents: int | None
    stock_status: str | None
    stock_quantity: int | None
    image_url: str | None
    url: str | None
    waitlist: Waitlist = attrs.Factory(Waitlist)


@output
@attrs.frozen(kw_only=True)
class Product:
    provider: str
    provider_product_id: str
    integration_id: str
    title: str
    type: str
    status: str
    url: str | None
    image_url: str | None
    categories: list[str]
    stock_status: str | None
    stock_quantity: int | None
    price_cents: int | None = attrs.field(metadata={"doc": "minor units of currency"})
    currency: str | None
    deleted: bool
    variants: list[Variant]
    replenishment: Replenishment = attrs.Factory(Replenishment)
    pending_reminders: int = 0


@output
@attrs.frozen(kw_only=True)
class ProductList(Ok):
    products: list[Product]
    total: int


@output
@attrs.frozen(kw_only=True)
class ProductResponse(Ok):
    product: Product


# --- sequences, runs, the ledger, settings -----------------------------------------------


@output
@attrs.frozen(kw_only=True)
class SequenceMeta:
    source: str = attrs.field(metadata={"doc": "api, or the rule file it was loaded from"})
    created_at: Timestamp
    updated_at: Timestamp
    active_enrollments: int


@output
@attrs.frozen(kw_only=True)
class SequenceResponse(Ok):
    sequence: dict[str, Any] = _as(rule_schema.Sequence)
    meta: SequenceMeta


@output
@attrs.frozen(kw_only=True)
class SequenceList(Ok):
    sequences: list[dict[str, Any]] = _as(list[rule_schema.Sequence])
    total: int


@output
@attrs.frozen(kw_only=True)
class SequenceDeleted(Ok):
    cancelled_enrollments: int


@attrs.frozen(kw_only=True)
class DryRunStep:
    """What one step would have done (documentation of the passed-through result)."""

    index: int
    kind: str
    at: Timestamp
    outcome: str = attrs.field(metadata={"doc": "done, would_send, would_call, capped, ..."})
    detail: str


@attrs.frozen(kw_only=True)
class DryRunResult:
    """One replayed event; ``entered`` results carry ``result``, ``steps``, ``stopReason``."""

    event_id: int
    occurred_at: Timestamp
    email: str | None
    live: bool
    outcome: Annotated[str, one_of("no_subscriber", "filtered", "blocked", "entered")]
    reasons: list[str] = attrs.Factory(list)
    result: Annotated[str, one_of("pending", "completed", "stopped")] | None = None
    match_value: str | None = None
    steps: list[DryRunStep] = attrs.Factory(list)
    stop_reason: str | None = None


@output
@attrs.frozen(kw_only=True)
class DryRunSummary:
    entered: int
    filtered: int
    blocked: int
    no_subscriber: int
    stopped: int
    capped: int
    completed: int
    pending: int
    emails_would_send: int
    webhooks_would_call: int


@output
@attrs.frozen(kw_only=True)
class DryRunReport:
    sequence: str
    from_: Timestamp
    to: Timestamp
    events: int
    summary: DryRunSummary
    results: list[dict[str, Any]] = _as(list[DryRunResult])
    truncated: bool
    notes: list[str]


@output
@attrs.frozen(kw_only=True)
class DryRunResponse(Ok):
    dry_run: DryRunReport


@output
@attrs.frozen(kw_only=True)
class EntryEvent:
    id: int
    name: str


@output
@attrs.frozen(kw_only=True)
class EnrollmentStep:
    index: int
    kind: str
    status: statuses.StepStatus
    due_at: Timestamp
    done_at: Timestamp | None
    detail: str | None


@output
@attrs.frozen(kw_only=True)
class Enrollment:
    id: int
    sequence_id: str | None
    email: str
    status: statuses.EnrollmentStatus
    stop_reason: str | None
    enrolled_at: Timestamp
    entry_event: EntryEvent
    steps: list[EnrollmentStep]
    match_value: str | None
    finished_at: Timestamp | None


@output
@attrs.frozen(kw_only=True)
class EnrollmentList(Ok):
    enrollments: list[Enrollment]
    total: int


@output
@attrs.frozen(kw_only=True)
class Message:
    id: int
    enrollment_id: int
    sequence_id: str | None
    step: int
    email: str
    subject: str
    status: statuses.MessageStatus
    reason: str | None
    sent_at: Timestamp | None
    message_id: str
    channel: str
    priority: int
    attempts: int
    created_at: Timestamp


@output
@attrs.frozen(kw_only=True)
class MessageList(Ok):
    messages: list[Message]
    total: int


@output
@attrs.frozen(kw_only=True)
class FrequencyCapSettings:
    enabled: bool
    max_messages: int
    window_hours: float
    when_capped: capping.WhenCapped


@output
@attrs.frozen(kw_only=True)
class FrequencyCapResponse(Ok):
    frequency_cap: FrequencyCapSettings


@output
@attrs.frozen(kw_only=True)
class WebhookSigningSecret(Ok):
    webhook_signing_secret: str = attrs.field(metadata={"doc": "whsec_<base64>"})


# --- errors (rendered by storeflow.web.errors) ------------------------------------------------


@output
@attrs.frozen(kw_only=True)
class ErrorDetail:
    path: str = attrs.field(metadata={"doc": "where: $.items[3].email, $.query.limit, ..."})
    message: str


@output
@attrs.frozen(kw_only=True)
class ErrorBody:
    code: str = attrs.field(metadata={"doc": "snake_case, stable: validation_failed, ..."})
    message: str
    details: list[ErrorDetail]


@output
@attrs.frozen(kw_only=True)
class ErrorResponse:
    """Every error under /api."""

    success: Literal[False] = False
    error: ErrorBody


# --- the converter ------------------------------------------------------------------------


def _passthrough(value: Any, _: Any = None) -> Any:
    # Values are what the routes computed; the classes check the keys, not the values.
    return value


def _structure_factory(cls: type, converter: cattrs.Converter) -> Any:
    renames = {a.name: override(rename=wire_name(a.name)) for a in attrs.fields(cls)}
    # mypy also matches ``**renames`` against cattrs' own ``_cattrs_*`` flags.
    return make_dict_structure_fn(
        cls,
        converter,
        _cattrs_forbid_extra_keys=True,
        **renames,  # type: ignore[arg-type]
    )


def _unstructure_factory(cls: type, converter: cattrs.Converter) -> Any:
    renames = {
        a.name: override(rename=wire_name(a.name), omit_if_default=a.metadata.get("omit_none"))
        for a in attrs.fields(cls)
    }
    return make_dict_unstructure_fn(cls, converter, **renames)  # type: ignore[arg-type]


converter = cattrs.Converter()
for _scalar in (str, int, float, bool):
    converter.register_structure_hook(_scalar, _passthrough)


def _is_literal(type_: object) -> bool:
    return get_origin(type_) is Literal


converter.register_structure_hook_func(_is_literal, _passthrough)
converter.register_structure_hook_factory(attrs.has, _structure_factory)
converter.register_unstructure_hook_factory(attrs.has, _unstructure_factory)


def load(data: Any, cls: type[T]) -> T:
    """A dict made by a core function, as ``cls``; its keys must be exactly the class's."""
    return converter.structure(data, cls)


def dump(obj: Any) -> dict[str, Any]:
    return converter.unstructure(obj)


def respond(obj: Any, status: int = 200) -> Response:
    response = jsonify(dump(obj))
    response.status_code = status
    return response
