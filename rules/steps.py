"""The ``step`` job kind: run one sequence step at its due time.

*prepare* takes the subscriber's lock, re-checks the stop conditions, and either
does the step (delay, branch, tag: internal, in this transaction) or, for an
email or webhook, applies the frequency cap and claims the send in the ledger
(``storeflow.rules.ledger``) in this same transaction. *perform* renders the
templates (under their budget, ``storeflow.rules.templates``) and sends, outside any
transaction, through an action plugin. *finish* records the outcome and
schedules the next position.

So the decision "stop or send" and the claim are one transaction, serialised with
the transaction that appends a stop event (``storeflow.core.storage.locks``): an
order committed before the claim always wins, on SQLite and PostgreSQL. A step job
that runs twice (duplicate enqueue, the sweeper after a crash) finds the ledger row
or a cursor that moved on, and sends nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.statuses import MessageOutcome
from storeflow.core.storage.locks import lock_subscriber
from storeflow.core.storage.tables import Company, Enrollment, Job, Message, Subscriber
from storeflow.core.work import outbox
from storeflow.rules import actions as builtin_actions
from storeflow.rules import capping, ledger, schema, sequences, stopping, suppressions
from storeflow.rules.compiler import next_send_time
from storeflow.rules.enrollments import finish, record_step, subscriber_view
from storeflow.rules.program import END, Node
from storeflow.rules.sequences import Loaded
from storeflow.rules.templates import RenderError

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

log = logging.getLogger(__name__)

# How performing a send went; ``retry`` queues it again (until MAX_ATTEMPTS);
# ``rejected``: refused for good by the recipient's server (failed, and suppressed).
Attempt = Literal["sent", "unknown", "failed", "retry", "rejected"]
Outcome = tuple[Attempt, str | None]  # and the detail for the ledger


@attrs.define
class SendPlan:
    """A claimed send. Templates are rendered by ``perform``, outside the claim's
    transaction (a slow template never holds a lock), and ``finish`` stores what was
    rendered on the ledger row."""

    message_id: int
    enrollment_id: int
    position: int
    ledger_message_id: str
    action: str
    ctx: builtin_actions.StepContext
    config: dict[str, Any]
    defaults: dict[str, Any]
    rendered: builtin_actions.Rendered | None = None


class Busy(RuntimeError):
    """Another worker holds the claim; the job is retried after its lease."""


INLINE_STEPS = "storeflow.inline_steps"


@attrs.define
class InlineSteps:
    kinds: frozenset[str]
    # Enrollments of the subscriber whose lock the block holds, and the position due.
    due: list[tuple[Enrollment, int]] = attrs.field(factory=list)


class StepJobs:
    """The ``step`` job kind: prepare (decide and claim), perform (send), finish (record).

    One job per enrollment and position (``step:<enrollment>:<position>``); ``again``
    names a repeat of the same position (frequency cap, retry, resume).
    """

    name = "step"

    def add(
        self,
        session: Session,
        enrollment: Enrollment,
        position: int,
        due: datetime,
        *,
        kind: str,
        again: str = "",
    ) -> None:
        """Queue the step job; ``again`` names a repeat of the same position (cap, retry).

        Inside :meth:`inline`, an internal step that is due now is run by the caller's
        transaction instead of becoming a job.
        """
        inline = session.info.get(INLINE_STEPS)
        if (
            isinstance(inline, InlineSteps)
            and position != END
            and kind in inline.kinds
            and due <= clock.now()
            and not again
        ):
            # Its record is written when it runs, at the end of the block: a "scheduled"
            # row now would be overwritten a moment later in the same transaction.
            inline.due.append((enrollment, position))
            return
        outbox.add(
            session,
            company_id=enrollment.company_id,
            kind=self.name,
            key=f"step:{enrollment.id}:{position}{again}",
            ref_id=enrollment.id,
            payload={"position": position},
            available_at=due,
        )
        if position != END:
            record_step(session, enrollment, position, kind, "scheduled", due)

    @contextmanager
    def inline(self, rt: Runtime, session: Session) -> Iterator[None]:
        """Run internal steps (delays, branches, tags) that fall due in the block, in the
        caller's transaction, when the block ends; sends still become jobs."""
        if isinstance(session.info.get(INLINE_STEPS), InlineSteps):
            yield  # an outer block runs them
            return
        internal = {"delay", "branch"} | {
            name for name, action in actions(rt).items() if not action.external
        }
        pending = InlineSteps(kinds=frozenset(internal))
        session.info[INLINE_STEPS] = pending
        try:
            yield
            while pending.due:
                enrollment, position = pending.due.pop(0)
                if self.decide(rt, session, enrollment, position) is not None:
                    raise AssertionError(f"internal step {position} asked to send")
        finally:
            session.info.pop(INLINE_STEPS, None)

    def prepare(self, rt: Runtime, session: Session, job: Job) -> SendPlan | None:
        position = int(job.payload.get("position", 0))
        subscriber_id = session.scalar(
            select(Enrollment.subscriber_id).where(Enrollment.id == job.ref_id)
        )
        if subscriber_id is None:
            return None
        lock_subscriber(session, subscriber_id)
        # Read after the lock: an event job that stopped the run has committed by now.
        enrollment = session.get_one(
            Enrollment, job.ref_id, populate_existing=True, with_for_update=True
        )
        subscriber = session.get_one(Subscriber, subscriber_id, populate_existing=True)
        return self.decide(rt, session, enrollment, position, subscriber)

    def decide(
        self,
        rt: Runtime,
        session: Session,
        enrollment: Enrollment,
        position: int,
        subscriber: Subscriber | None = None,
    ) -> SendPlan | None:
        """Run the step at ``position``, or plan its send; the caller holds the
        subscriber's lock and has read the enrollment and the subscriber under it (an
        inline step: in the same transaction that enrolled it, so nothing re-reads)."""
        if enrollment.status != "active" or enrollment.next_step != position:
            return None  # stopped, finished, or this position already ran
        loaded = sequences.company_rules(session, enrollment.company_id).by_row.get(
            enrollment.sequence_id
        )
        if loaded is None:
            stopping.stop(session, enrollment, None, "sequence deleted", status="cancelled")
            return None
        node = loaded.program.at(position)
        if node is None:
            finish(enrollment, "completed")  # the sequence was edited to fewer steps
            return None
        if subscriber is None:
            subscriber = session.get_one(Subscriber, enrollment.subscriber_id)
        view = subscriber_view(subscriber)
        now = clock.now()
        reason = stopping.stop_reason(session, enrollment, loaded, view)
        if reason:
            reason = suppressions.explain(session, subscriber, reason)
            stopping.stop(session, enrollment, loaded, reason)
            return None
        if loaded.status == "paused":
            detail = "sequence paused; continues when it is active again"
            record_step(session, enrollment, position, node.kind, "paused", now, detail)
            return None
        if loaded.status == "draft":
            stopping.stop(session, enrollment, loaded, "sequence is a draft", status="cancelled")
            return None
        if node.kind == "delay":
            self._delay(session, enrollment, loaded, node, now)
            return None
        if node.kind == "branch":
            self._branch(session, enrollment, loaded, node, view, now)
            return None
        action = actions(rt).get(node.kind)
        if action is None:
            raise LookupError(f"no action plugin for step {node.kind!r}")
        ctx = _context(enrollment, loaded, position, subscriber)
        config = _config(node)
        if not action.external:
            detail = action.apply(session, ctx, config)
            record_step(session, enrollment, position, node.kind, "done", now, detail)
            _advance(session, enrollment, loaded, node.next, now)
            # A tag (or any internal change) may satisfy has_tag / field_changed stops of
            # this run or of the subscriber's other runs.
            stopping.recheck_subscriber(
                session, subscriber, sequences.company_rules(session, enrollment.company_id)
            )
            return None
        return self._claim(rt, session, enrollment, loaded, node, action, ctx, config)

    def _delay(
        self, session: Session, enrollment: Enrollment, loaded: Loaded, node: Node, now: datetime
    ) -> None:
        step = node.step
        if isinstance(step, schema.DelayUntil):
            due = next_send_time(step.until, now)
            window = step.until
            detail = (
                f"until {due.isoformat()} (window {','.join(window.weekdays)} "
                f"{window.start}-{window.end} {window.timezone})"
            )
        else:
            assert isinstance(step, schema.Delay)
            due = now + step.duration
            detail = f"until {due.isoformat()}"
        record_step(session, enrollment, node.position, "delay", "done", now, detail)
        _advance(session, enrollment, loaded, node.next, due)

    def _branch(
        self,
        session: Session,
        enrollment: Enrollment,
        loaded: Loaded,
        node: Node,
        view: dict[str, Any],
        now: datetime,
    ) -> None:
        assert isinstance(node.step, schema.Branch)
        condition = loaded.compiled.branch_condition(node.step)
        entry = enrollment.entry_properties or {}
        if condition.holds(entry, view):
            target, detail = node.then_, "then: every if filter holds"
        else:
            failures = "; ".join(condition.failures(entry, view))
            target, detail = node.else_, f"else: {failures}"
        record_step(session, enrollment, node.position, "branch", "done", now, detail)
        _advance(session, enrollment, loaded, target, now)

    def _claim(
        self,
        rt: Runtime,
        session: Session,
        enrollment: Enrollment,
        loaded: Loaded,
        node: Node,
        action: builtin_actions.ExternalAction,
        ctx: builtin_actions.StepContext,
        config: dict[str, Any],
    ) -> SendPlan | None:
        now = clock.now()
        position = node.position
        existing = ledger.find(session, enrollment.id, position)
        if existing is not None and existing.status != "queued":
            # A second run of the same step: never send again; settle what the first left.
            if not ledger.settle_expired(existing, now):
                raise Busy("another worker is sending this step")
            record_step(
                session, enrollment, position, node.kind, existing.status, now, existing.reason
            )
            _advance(session, enrollment, loaded, node.next, now)
            return None
        company = session.get_one(Company, enrollment.company_id)
        if node.kind == "email" and not self._within_cap(
            session, enrollment, loaded, node, company
        ):
            return None
        token, token_hash = ledger.new_unsubscribe_token() if node.kind == "email" else ("", None)
        defaults = {
            "sender": rt.settings.mail_from,
            "unsubscribe_url": f"{rt.settings.base_url}/unsubscribe/{token}" if token else "",
            "webhook_id": ledger.webhook_id_for(enrollment.company_id, enrollment.id, position),
        }
        if node.kind == "webhook":
            defaults["signing_secret"] = builtin_actions.signing_secret(company)
        message = ledger.claim(
            session,
            enrollment,
            position,
            channel=node.kind,
            priority=loaded.priority,
            content={"email": ctx.subscriber.email},  # the rest once rendered (perform)
            lease_seconds=rt.settings.job_lease_seconds,
            token_hash=token_hash,
        )
        if message is None:
            raise Busy("the ledger row changed while claiming; retrying")
        record_step(session, enrollment, position, node.kind, "sending", now)
        ledger_id = (
            ledger.webhook_id_for(enrollment.company_id, enrollment.id, position)
            if node.kind == "webhook"
            else message.message_id
        )
        return SendPlan(
            message.id, enrollment.id, position, ledger_id, node.kind, ctx, config, defaults
        )

    def _within_cap(
        self,
        session: Session,
        enrollment: Enrollment,
        loaded: Loaded,
        node: Node,
        company: Company,
    ) -> bool:
        """Apply the company's frequency cap; False when the email waits or is skipped."""
        cap = capping.from_settings(company.settings)
        if not cap.enabled:
            return True
        now = clock.now()
        recent = capping.recent_sends(session, enrollment.subscriber_id, now - cap.window)
        verdict = capping.check(cap, loaded.priority, recent, now)
        if verdict.allowed:
            return True
        position = node.position
        if cap.when_capped == "skip" or verdict.until is None:
            reason = f"skipped: {verdict.reason}"
            ledger.hold(
                session,
                enrollment,
                position,
                channel="email",
                priority=loaded.priority,
                status="skipped",
                reason=reason,
            )
            record_step(session, enrollment, position, "email", "skipped", now, reason)
            _advance(session, enrollment, loaded, node.next, now)
            return False
        reason = f"delayed until {verdict.until.isoformat(timespec='seconds')}: {verdict.reason}"
        ledger.hold(
            session,
            enrollment,
            position,
            channel="email",
            priority=loaded.priority,
            status="queued",
            reason=reason,
        )
        stamp = int(now.timestamp() * 1000)  # a new job each time the email is capped
        STEP_JOBS.add(
            session, enrollment, position, verdict.until, kind="email", again=f":cap:{stamp}"
        )
        record_step(session, enrollment, position, "email", "delayed", verdict.until, reason)
        return False

    def perform(self, rt: Runtime, plan: SendPlan) -> Outcome:
        action = actions(rt)[plan.action]
        if not action.external:
            return "failed", f"TypeError: the action {plan.action!r} does not send anything"
        try:
            plan.rendered = action.render(plan.ctx, plan.config, plan.defaults)
        except Exception as exc:  # nothing was sent: the message fails, saying why
            why = str(exc) if isinstance(exc, RenderError) else f"{type(exc).__name__}: {exc}"
            return "failed", f"could not render: {why}"
        try:
            status = action.perform(plan.rendered, plan.ledger_message_id, rt)
        except builtin_actions.Rejected as exc:
            return "rejected", str(exc)
        except builtin_actions.RetryLater as exc:
            return "retry", str(exc)
        except builtin_actions.MaybeSent as exc:
            return "unknown", f"{exc}; it may or may not have been delivered"
        except Exception as exc:  # recorded on the message; the step moves on
            return "failed", f"{type(exc).__name__}: {exc}"
        if status == "kept":
            return "sent", "no SMTP server configured; kept in the ledger"
        return "sent", None

    def finish(
        self,
        rt: Runtime,
        session: Session,
        job: Job,
        plan: SendPlan | None,
        outcome: Outcome | None,
    ) -> None:
        if plan is None or outcome is None:
            return
        attempt, detail = outcome
        enrollment = session.get_one(Enrollment, plan.enrollment_id)
        lock_subscriber(session, enrollment.subscriber_id)
        session.refresh(enrollment)
        message = ledger.find(session, plan.enrollment_id, plan.position)
        assert message is not None
        now = clock.now()
        loaded = sequences.company_rules(session, enrollment.company_id).by_row.get(
            enrollment.sequence_id
        )
        node = loaded.program.at(plan.position) if loaded else None
        if plan.rendered is not None:
            builtin_actions.store_content(message, plan.rendered)
        if message.status == "sending":
            status: MessageOutcome = (
                "failed" if attempt == "retry" or attempt == "rejected" else attempt
            )
            if attempt == "retry" and enrollment.status != "active":
                # Not delivered, and the run stopped meanwhile: nothing left to retry for.
                status = "skipped"
                detail = f"{enrollment.status}: {enrollment.stop_reason}; last attempt: {detail}"
            elif attempt == "retry" and message.attempts < ledger.MAX_ATTEMPTS:
                self._retry(session, enrollment, message, plan, detail or "", now)
                return
            message.status = status
            message.reason = detail
            message.lease_until = None
            message.sent_at = now if status == "sent" else None
        elif message.status == "queued":
            return  # queued again for a retry: that retry's job records the step
        else:
            status = message.status  # the sweeper already judged it (unknown): keep its verdict
        record_step(session, enrollment, plan.position, plan.action, status, now, message.reason)
        if enrollment.status == "active" and enrollment.next_step == plan.position:
            _advance(session, enrollment, loaded, node.next if node else END, now)
        if attempt == "rejected":
            suppressions.suppress(session, enrollment.subscriber_id, detail or "rejected")

    def _retry(
        self,
        session: Session,
        enrollment: Enrollment,
        message: Message,
        plan: SendPlan,
        detail: str,
        now: datetime,
    ) -> None:
        when = now + ledger.retry_delay(message.attempts)
        message.status = "queued"
        message.lease_until = None
        message.reason = (
            f"attempt {message.attempts} failed ({detail}); retrying at "
            f"{when.isoformat(timespec='seconds')}"
        )
        record_step(
            session, enrollment, plan.position, plan.action, "retrying", when, message.reason
        )
        if enrollment.status == "active":
            STEP_JOBS.add(
                session,
                enrollment,
                plan.position,
                when,
                kind=plan.action,
                again=f":retry:{message.attempts}",
            )


def _advance(
    session: Session, enrollment: Enrollment, loaded: Loaded | None, position: int, due: datetime
) -> None:
    """Move the cursor; schedule that position, or complete the run at the end."""
    if enrollment.status != "active":
        return  # a stop found during this step (a tag re-check) wins
    enrollment.next_step = position
    node = loaded.program.at(position) if loaded is not None and position != END else None
    if node is not None:
        STEP_JOBS.add(session, enrollment, position, due, kind=node.kind)
    elif due > clock.now():
        # A trailing delay: the run stays active (holding its re-entry slot) until it ends.
        STEP_JOBS.add(session, enrollment, END, due, kind="end")
    else:
        finish(enrollment, "completed")


def actions(rt: Runtime) -> dict[str, builtin_actions.Action]:
    found: dict[str, builtin_actions.Action] = {}
    for batch in rt.pm.hook.register_actions():
        for action in batch or ():
            found[action.name] = action
    return found


def _config(node: Node) -> dict[str, Any]:
    """The step's settings in wire form (``from``, ``url``, ``add``...)."""
    config: dict[str, Any] = schema.converter.unstructure(node.step)[node.kind]
    return config


def _context(
    enrollment: Enrollment, loaded: Loaded, position: int, subscriber: Subscriber
) -> builtin_actions.StepContext:
    event = dict(enrollment.entry_properties or {})
    return builtin_actions.StepContext(
        company_id=enrollment.company_id,
        enrollment_id=enrollment.id,
        sequence_id=enrollment.sequence_id,
        sequence=loaded.slug,
        position=position,
        subscriber=subscriber,
        event=event,
        variables={
            "event": event,
            "subscriber": subscriber_view(subscriber),
            "product": template_product(event),
        },
        entry_event={
            "id": enrollment.entry_event_id,
            "name": enrollment.entry_event_name,
            "occurredAt": enrollment.entry_occurred_at.isoformat()
            if enrollment.entry_occurred_at
            else None,
        },
    )


def template_product(event: dict[str, Any]) -> dict[str, Any]:
    """``product.*`` in templates: the event's product, else its first line item."""
    product = event.get("product")
    if isinstance(product, dict):
        return product
    items = event.get("lineItems")
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


STEP_JOBS = StepJobs()
