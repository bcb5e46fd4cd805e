"""Admin JSON API of the rules engine (company API key).

``/api/sequences`` takes and returns the rule-file schema as JSON (``storeflow.rules.schema``),
so a sequence can move between a YAML file and the API unchanged; invalid input is a
422 whose ``details`` are the schema's issues (``{path: "$.trigger.filters[0].operator",
message}``), every problem at once. ``/api/enrollments`` and ``/api/messages`` read
the runs and the send ledger; ``/api/settings/*`` holds the frequency cap, the
cart recovery times and the outbound webhook signing secret;
``/api/sequences/<id>/recovery`` the revenue its recovery emails won back. Every query is scoped to the key's company.
"""

from __future__ import annotations

from typing import Any

import attrs
from flask import Blueprint, Response, request

from storeflow.core import clock, statuses
from storeflow.core.commerce import carts
from storeflow.core.errors import Conflict, NotFound, ValidationFailed
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Company
from storeflow.rules import actions, capping, dryrun, enrollments, ledger, runner, schema, sequences
from storeflow.web import responses
from storeflow.web.apischema import output
from storeflow.web.auth import company_from_api_key
from storeflow.web.inputs import json_body
from storeflow.web.params import int_arg
from storeflow.web.runtime import rt

bp = Blueprint("sequences", __name__, url_prefix="/api")

ENROLLMENT_STATUSES = statuses.ENROLLMENT_STATUSES
MESSAGE_STATUSES = statuses.MESSAGE_STATUSES
MAX_ROW_ID = 2**63 - 1


def _structure(data: Any) -> schema.Sequence:
    try:
        return schema.structure_sequence(data)
    except schema.SchemaError as error:
        details = [{"path": issue.json_path, "message": issue.message} for issue in error.issues]
        first = details[0] if details else {"path": "$", "message": "invalid"}
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise ValidationFailed(
            f"the sequence is not valid: {first['path']}: {first['message']}{more}",
            details=details,
        ) from None


def _found(session: Any, company_id: int, sequence_id: str) -> Any:
    row = sequences.get(session, company_id, sequence_id)
    if row is None:
        raise NotFound(f"no sequence {sequence_id!r}", code="sequence_not_found")
    return row


def _meta(session: Any, row: Any) -> responses.SequenceMeta:
    return responses.SequenceMeta(
        source=row.source,
        created_at=row.created_at.isoformat(),
        updated_at=row.updated_at.isoformat(),
        active_enrollments=enrollments.active_count(session, row.id),
    )


@bp.get("/sequences")
def list_sequences() -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        rows = sequences.listing(session, company.id)
        status = request.args.get("status")
        if status:
            rows = [row for row in rows if row.status == status]
        answer = responses.SequenceList(sequences=[row.definition for row in rows], total=len(rows))
        return responses.respond(answer)


@bp.post("/sequences")
def create_sequence() -> Response:
    seq = _structure(json_body())
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        if sequences.get(session, company.id, seq.id) is not None:
            raise Conflict(
                f"a sequence {seq.id!r} exists; PUT /api/sequences/{seq.id} replaces it",
                code="sequence_exists",
            )
        row = runner.save_sequence(session, company.id, seq)
        return _sequence_response(session, row, 201)


def _sequence_response(session: Session, row: Any, status: int = 200) -> Response:
    answer = responses.SequenceResponse(sequence=row.definition, meta=_meta(session, row))
    return responses.respond(answer, status)


@bp.get("/sequences/<sequence_id>")
def get_sequence(sequence_id: str) -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        return _sequence_response(session, _found(session, company.id, sequence_id))


@bp.put("/sequences/<sequence_id>")
def put_sequence(sequence_id: str) -> Response:
    data = json_body()
    if isinstance(data, dict) and "id" not in data:
        data = {"id": sequence_id, **data}
    seq = _structure(data)
    if seq.id != sequence_id:
        raise ValidationFailed(
            "the body's id must be the id in the URL",
            details=[{"path": "$.id", "message": f"must be {sequence_id!r}, got {seq.id!r}"}],
        )
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        created = sequences.get(session, company.id, sequence_id) is None
        row = runner.save_sequence(session, company.id, seq)
        return _sequence_response(session, row, 201 if created else 200)


@bp.delete("/sequences/<sequence_id>")
def delete_sequence(sequence_id: str) -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = _found(session, company.id, sequence_id)
        cancelled = runner.delete_sequence(session, row)
        return responses.respond(responses.SequenceDeleted(cancelled_enrollments=cancelled))


@bp.post("/sequences/<sequence_id>/dry-run")
def dry_run_sequence(sequence_id: str) -> Response:
    options = dryrun.parse_options(json_body(optional=True))
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = _found(session, company.id, sequence_id)
        simulated = dryrun.simulate(
            session,
            company,
            schema.structure_sequence(row.definition),
            days=options.days,
            limit=options.limit,
            now=clock.now(),
        )
        # A dry-run never writes: anything the session might hold is discarded.
        session.rollback()
    report = simulated.rendered()  # templates render outside the transaction
    return responses.respond(
        responses.DryRunResponse(dry_run=responses.load(report, responses.DryRunReport))
    )


# --- runs and the ledger ------------------------------------------------------------------


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise ValidationFailed(
            f"{name} must be one of {', '.join(allowed)}",
            details=[
                {"path": f"$.query.{name}", "message": f"must be one of {', '.join(allowed)}"}
            ],
        )
    return value


def _sequence_filter(session: Session, company_id: int) -> int | None:
    """``?sequence=`` as a row id (its slug or row id; -1 matches nothing), if given."""
    value = request.args.get("sequence")
    return sequences.id_arg(session, company_id, value) if value else None


def _email_filter() -> str | None:
    """``?email=`` as given; the listings compare it normalised (``normalize_email``)."""
    return request.args.get("email") or None


@bp.get("/enrollments")
def list_enrollments() -> Response:
    status = _choice("status", ENROLLMENT_STATUSES)
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        rows, total = enrollments.page(
            session,
            company.id,
            sequence_id=_sequence_filter(session, company.id),
            email=_email_filter(),
            status=status,
            limit=int_arg("limit", 50, low=1, high=500),
            offset=int_arg("offset", 0, high=10**9),
        )
        history = enrollments.step_history(session, [row.id for row in rows])
        slugs = sequences.slugs(session, {row.sequence_id for row in rows})
        items = [
            responses.load(
                enrollments.to_json(row, slugs.get(row.sequence_id), history[row.id]),
                responses.Enrollment,
            )
            for row in rows
        ]
        return responses.respond(responses.EnrollmentList(enrollments=items, total=total))


@bp.get("/messages")
def list_messages() -> Response:
    status = _choice("status", MESSAGE_STATUSES)
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        rows, total = ledger.page(
            session,
            company.id,
            email=_email_filter(),
            sequence_id=_sequence_filter(session, company.id),
            status=status,
            limit=int_arg("limit", 50, low=1, high=500),
            offset=int_arg("offset", 0, high=10**9),
        )
        slugs = sequences.slugs(session, {row.sequence_id for row in rows})
        items = [
            responses.load(ledger.to_json(row, slugs.get(row.sequence_id)), responses.Message)
            for row in rows
        ]
        return responses.respond(responses.MessageList(messages=items, total=total))


# --- settings -------------------------------------------------------------------------------


@bp.get("/settings/frequency-cap")
def get_frequency_cap() -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        return _cap_response(capping.from_settings(company.settings))


@bp.put("/settings/frequency-cap")
def put_frequency_cap() -> Response:
    data = json_body()
    try:
        cap = capping.parse(data)
    except capping.InvalidCap as error:
        raise ValidationFailed(
            f"the frequency cap is not valid: {error}", details=error.details
        ) from None
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        _set_setting(company, capping.SETTINGS_KEY, cap.to_json())
        return _cap_response(cap)


@bp.get("/settings/webhook-signing-secret")
def get_webhook_secret() -> Response:
    """The Standard Webhooks secret that signs this company's outbound webhook steps."""
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        secret = actions.signing_secret(company)
        return responses.respond(responses.WebhookSigningSecret(webhook_signing_secret=secret))


def _cap_response(cap: capping.FrequencyCap) -> Response:
    settings = responses.load(cap.to_json(), responses.FrequencyCapSettings)
    return responses.respond(responses.FrequencyCapResponse(frequency_cap=settings))


def _set_setting(company: Company, key: str, value: Any) -> None:
    company.settings = {**(company.settings or {}), key: value}


# --- cart recovery: what a recovery sequence earned, and the company's times (issue 12) ------


@output
@attrs.frozen(kw_only=True)
class RevenueLine:
    currency: str
    total_cents: int


@output
@attrs.frozen(kw_only=True)
class SequenceRecovery(responses.Ok):
    sequence_id: str
    orders: int
    revenue: list[RevenueLine]
    attribution_window_hours: int


@output
@attrs.frozen(kw_only=True)
class CartRecoverySettings(responses.Ok):
    abandon_after_minutes: int
    cooldown_hours: int
    anonymous_expiry_hours: int
    attribution_window_hours: int


@attrs.frozen(kw_only=True)
class CartSettingsBody:
    """The body of ``PUT /api/settings/cart-recovery`` (``carts.parse_settings`` checks it)."""

    abandon_after_minutes: int = attrs.field(
        default=60, metadata={"schema": {"minimum": 1, "maximum": 43200}}
    )
    cooldown_hours: int = attrs.field(
        default=24, metadata={"schema": {"minimum": 0, "maximum": 8760}}
    )
    anonymous_expiry_hours: int = attrs.field(
        default=72, metadata={"schema": {"minimum": 1, "maximum": 8760}}
    )
    attribution_window_hours: int = attrs.field(
        default=120, metadata={"schema": {"minimum": 0, "maximum": 8760}}
    )


@bp.get("/sequences/<sequence_id>/recovery")
def sequence_recovery(sequence_id: str) -> Response:
    """Revenue of orders placed within the attribution window after the sequence's emails."""
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = _found(session, company.id, sequence_id)
        stats = carts.recovered_revenue(session, row.id)
        answer = SequenceRecovery(
            sequence_id=row.slug,
            orders=stats["orders"],
            revenue=[
                RevenueLine(currency=r["currency"], total_cents=r["totalCents"])
                for r in stats["revenue"]
            ],
            attribution_window_hours=carts.settings_for(company).attribution_window_hours,
        )
        return responses.respond(answer)


@bp.get("/settings/cart-recovery")
def get_cart_settings() -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        return _cart_settings_response(carts.settings_for(company))


@bp.put("/settings/cart-recovery")
def put_cart_settings() -> Response:
    data = json_body()
    try:
        parsed = carts.parse_settings(data)
    except carts.InvalidSettings as error:
        raise ValidationFailed(
            f"the cart recovery settings are not valid: {error}", details=error.details
        ) from None
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        _set_setting(company, carts.SETTINGS_KEY, parsed.to_json())
        return _cart_settings_response(parsed)


def _cart_settings_response(value: carts.CartSettings) -> Response:
    return responses.respond(
        CartRecoverySettings(
            abandon_after_minutes=value.abandon_after_minutes,
            cooldown_hours=value.cooldown_hours,
            anonymous_expiry_hours=value.anonymous_expiry_hours,
            attribution_window_hours=value.attribution_window_hours,
        )
    )
