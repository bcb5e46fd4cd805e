"""Sequences: the list, one sequence (trigger, filters, re-entry, stops, steps with counts
per step), an upload of YAML rule files checked like ``storeflow rules check``, and the
dry-run report as a table."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from storeflow.core import clock
from storeflow.core.errors import NotFound, ValidationFailed
from storeflow.core.storage.tables import Sequence
from storeflow.rules import dryrun, enrollments, loader, runner, schema, sequences
from storeflow.web.pages.common import (
    Viewer,
    back,
    blueprint,
    manager,
    notice,
    render,
    signed_in,
)

bp = blueprint("pages_sequences", __name__, url_prefix="/sequences")

UPLOAD_LIMIT = 200_000  # characters of YAML in one upload
DRY_RUN_ROWS = 200


def _found(viewer: Viewer, slug: str) -> Sequence:
    row = sequences.get(viewer.db, viewer.company.id, slug)
    if row is None:
        raise NotFound(f"no sequence {slug!r}", code="sequence_not_found")
    return row


@bp.get("")
@signed_in
def index(viewer: Viewer) -> ResponseReturnValue:
    rows = sequences.listing(viewer.db, viewer.company.id)
    items = [{"row": row, "active": enrollments.active_count(viewer.db, row.id)} for row in rows]
    return render("pages/sequences.html", viewer, items=items, problems=[], text="")


def _steps(definition: dict[str, Any], counts: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    found = []
    for index, step in enumerate(definition.get("steps") or []):
        kind = next(iter(step), "step") if isinstance(step, dict) else "step"
        body = step.get(kind) if isinstance(step, dict) else step
        found.append(
            {
                "index": index,
                "kind": kind,
                "body": json.dumps(body, ensure_ascii=False, sort_keys=True),
                "counts": counts.get(index, {}),
            }
        )
    return found


def _detail(viewer: Viewer, row: Sequence, report: dict[str, Any] | None, days: int) -> Any:
    definition = row.definition or {}
    return render(
        "pages/sequence.html",
        viewer,
        row=row,
        definition=definition,
        trigger=definition.get("trigger") or {},
        steps=_steps(definition, enrollments.step_counts(viewer.db, row.id)),
        active=enrollments.active_count(viewer.db, row.id),
        report=report,
        days=days,
        max_days=dryrun.MAX_DAYS,
        as_json=lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True),
    )


@bp.get("/<slug>")
@signed_in
def detail(viewer: Viewer, slug: str) -> ResponseReturnValue:
    return _detail(viewer, _found(viewer, slug), None, 30)


@bp.post("/<slug>/dry-run")
@signed_in
def dry_run(viewer: Viewer, slug: str) -> ResponseReturnValue:
    """Replay the last ``days`` of trigger events without writing (as the API's dry-run)."""
    row = _found(viewer, slug)
    raw = (request.form.get("days") or "30").strip()
    days = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 5 else 0
    if not 1 <= days <= dryrun.MAX_DAYS:
        notice(f"Days must be a whole number from 1 to {dryrun.MAX_DAYS}.", "error")
        return back("pages_sequences.detail", slug=slug)
    simulated = dryrun.simulate(
        viewer.db,
        viewer.company,
        schema.structure_sequence(row.definition),
        days=days,
        limit=DRY_RUN_ROWS,
        now=clock.now(),
    )
    viewer.db.rollback()  # a dry-run never writes; subjects render outside the transaction
    return _detail(viewer, row, simulated.rendered(), days)


@bp.post("/upload")
@signed_in
def upload(viewer: Viewer) -> ResponseReturnValue:
    """Create or replace sequences from YAML; nothing is saved when any problem is found."""
    manager(viewer)
    text = request.form.get("yaml", "")
    upload_file = request.files.get("file")
    if upload_file is not None and upload_file.filename:
        text = upload_file.read(UPLOAD_LIMIT + 1).decode("utf-8", errors="replace")
    problems: list[str] = []
    if not text.strip():
        problems = ["Paste a rule file or choose one to upload."]
    elif len(text) > UPLOAD_LIMIT:
        problems = [f"The rule file is longer than {UPLOAD_LIMIT:,} characters."]
    else:
        try:
            parsed = loader.parse_text(text, "upload.yaml")
        except loader.RuleErrors as error:
            problems = [str(problem) for problem in error.problems]
        except ValidationFailed as error:
            problems = [f"{d['path']}: {d['message']}" for d in error.details] or [error.message]
        else:
            for seq in parsed:
                runner.save_sequence(viewer.db, viewer.company.id, seq, source="upload")
            notice(f"Saved {len(parsed)} sequence{'s' if len(parsed) != 1 else ''}.")
            return back("pages_sequences.index")
    rows = sequences.listing(viewer.db, viewer.company.id)
    items = [{"row": r, "active": enrollments.active_count(viewer.db, r.id)} for r in rows]
    return render(
        "pages/sequences.html", viewer, 422, items=items, problems=problems, text=text[:20_000]
    )
