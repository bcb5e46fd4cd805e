"""Operations (owners and admins): dead jobs to retry, failed deliveries to replay,
messages whose delivery is unknown."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from storeflow.core import operator
from storeflow.core.errors import NotFound
from storeflow.core.stores import health, integrations
from storeflow.rules import ledger, sequences
from storeflow.web.pages.common import Viewer, back, blueprint, manager, notice, render, signed_in

bp = blueprint("pages_operations", __name__, url_prefix="/operations")

ROWS = 50


@bp.get("")
@signed_in
def index(viewer: Viewer) -> ResponseReturnValue:
    manager(viewer)
    company_id = viewer.company.id
    stores = integrations.listing(viewer.db, company_id=company_id)
    failures = [
        {"store": row, **failure}
        for row in stores
        for failure in health.recent_failures(viewer.db, row.id, limit=ROWS)
    ]
    unknown, unknown_total = ledger.page(
        viewer.db, company_id, status="unknown", limit=ROWS, offset=0
    )
    slugs = sequences.slugs(viewer.db, {m.sequence_id for m in unknown})
    return render(
        "pages/operations.html",
        viewer,
        jobs=operator.jobs(viewer.db, status="dead", company_id=company_id, limit=ROWS),
        failures=sorted(failures, key=lambda f: -f["deliveryId"])[:ROWS],
        unknown=[ledger.to_json(m, slugs.get(m.sequence_id)) for m in unknown],
        unknown_total=unknown_total,
    )


@bp.post("/jobs/<int:job_id>/retry")
@signed_in
def retry(viewer: Viewer, job_id: int) -> ResponseReturnValue:
    manager(viewer)
    if job_id not in operator.dead_job_ids(viewer.db, company_id=viewer.company.id):
        raise NotFound("no such dead job", code="job_not_found")
    operator.retry(viewer.db, [job_id])
    notice(f"Job {job_id} is queued again.")
    return back("pages_operations.index")
