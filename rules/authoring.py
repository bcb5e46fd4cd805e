"""Authoring tools behind ``storeflow rules check | test | dry-run``: data in, report out.

Nothing here prints or exits; ``web/cli.py`` formats. ``test`` takes an event as a
JSON file in any of these shapes:

- ``{"name": "ecommerce.order_placed", "properties": {...}, "subscriber": {...}}``
  (``subscriber`` is the flat profile rules see: ``ordersCount``, ``tags``, ...);
- an event as ``GET /api/events`` lists it, or the whole ``GET /api/events/<id>``
  answer (``{"success": true, "event": {...}}``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.errors import NotFound
from storeflow.core.storage.tables import Company
from storeflow.rules import dryrun, loader, schema, sequences
from storeflow.rules.compiler import compile_sequence


class BadEvent(ValueError):
    """The event file cannot be read as an event."""


def check(path: str) -> tuple[list[loader.Problem], int]:
    """Every problem under ``path``, and how many sequences it holds when there are none."""
    problems = loader.check_path(path)
    if problems:
        return problems, 0
    return [], len(loader.load_path(path))


def read_event(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadEvent(f"{path}: not a JSON file: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("event"), dict):
        data = data["event"]
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise BadEvent(f'{path}: expected an object with "name" and "properties"')
    properties = data.get("properties", {})
    subscriber = data.get("subscriber", {})
    if not isinstance(properties, dict) or not isinstance(subscriber, dict):
        raise BadEvent(f"{path}: properties and subscriber must be objects")
    return {"name": data["name"], "properties": properties, "subscriber": subscriber}


def test(path: str, event_path: Path) -> dict[str, Any]:
    """Which sequences under ``path`` the event enrols into, and every reason why not.

    Raises ``loader.RuleErrors`` for invalid rule files and :class:`BadEvent`.
    """
    found = loader.load_path(path)
    event = read_event(event_path)
    results = []
    for seq in found:
        compiled = compile_sequence(seq)
        match = compiled.match(event["name"], event["properties"], event["subscriber"])
        results.append(
            {
                "id": seq.id,
                "status": seq.status,
                "priority": seq.priority,
                "matched": match.matched,
                "wouldEnrol": match.matched and seq.status == "active",
                "reasons": match.reasons,
                "enrollment": {
                    "mode": compiled.enrollment.mode,
                    "fieldPath": compiled.enrollment.field_path,
                    "key": compiled.enrollment_key(event["properties"]),
                },
                "stopsOn": sorted(compiled.stop_events),
                "stopsAreDefault": compiled.stops_are_default,
            }
        )
    warnings = []
    if event["name"] not in schema.EVENT_NAMES:
        warnings.append(f"{event['name']!r} is not an event name storeflow emits")
    return {"event": event["name"], "sequences": results, "warnings": warnings}


def format_test(report: dict[str, Any]) -> list[str]:
    lines = [f"warning: {text}" for text in report["warnings"]]
    matched = [s for s in report["sequences"] if s["matched"]]
    lines.append(
        f"{report['event']}: {len(matched)} of {len(report['sequences'])} sequence(s) match"
    )
    for item in report["sequences"]:
        if item["matched"]:
            key = item["enrollment"]["key"]
            extra = f", {item['enrollment']['mode']} key {key!r}" if key is not None else ""
            status = "" if item["status"] == "active" else f" (but it is {item['status']})"
            lines.append(f"MATCH     {item['id']} (priority {item['priority']}{extra}){status}")
        else:
            lines.append(f"no match  {item['id']}")
            lines += [f"          - {reason}" for reason in item["reasons"]]
    return lines


def dry_run(
    session: Session, company: Company, target: str, *, days: int, limit: int
) -> list[dict[str, Any]]:
    """Dry-run a stored sequence (by id) or every sequence of a rule file or directory."""
    if Path(target).exists():
        found = loader.load_path(target)
    else:
        row = sequences.get(session, company.id, target)
        if row is None:
            raise NotFound(
                f"no sequence {target!r} in {company.slug}, and no such file",
                code="sequence_not_found",
            )
        found = [schema.structure_sequence(row.definition)]
    now = clock.now()
    return [dryrun.run(session, company, seq, days=days, limit=limit, now=now) for seq in found]


def format_dry_run(report: dict[str, Any]) -> list[str]:
    summary = report["summary"]
    lines = [
        f"dry-run of {report['sequence']}: {report['events']} event(s) from {report['from']} "
        f"to {report['to']}",
        f"  entered {summary['entered']} (stopped {summary['stopped']}, capped "
        f"{summary['capped']}), filtered {summary['filtered']}, blocked {summary['blocked']}, "
        f"no subscriber {summary['noSubscriber']}",
        f"  would send {summary['emailsWouldSend']} email(s), call {summary['webhooksWouldCall']} "
        "webhook(s)",
    ]
    for note in report["notes"]:
        lines.append(f"  note: {note}")
    for item in report["results"]:
        head = f"#{item['eventId']} {item['occurredAt']} {item['email'] or '-'}"
        if item["outcome"] != "entered":
            lines.append(f"{head}  {item['outcome']}: {'; '.join(item['reasons'])}")
            continue
        stop = f" ({item['stopReason']})" if item.get("stopReason") else ""
        lines.append(f"{head}  entered -> {item['result']}{stop}")
        for step in item["steps"]:
            lines.append(
                f"    [{step['index']}] {step['kind']} {step['outcome']} at {step['at']}: "
                f"{step['detail']}"
            )
    if report["truncated"]:
        lines.append(f"  ... {report['events'] - len(report['results'])} more (raise --limit)")
    return lines
