"""``storeflow rules dry-run`` renders after its transaction and shows progress (issue 16).

The CLI dry-run rendered every subject inside its unit of work: a slow template kept
a connection (and, on SQLite, the read transaction) for the whole budget. It now
simulates inside and renders after, as ``POST /api/sequences/<id>/dry-run`` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from storeflow.rules import dryrun
from storeflow.web.cli import cli
from tests.rulekit import ORDER, emit, sequence

SUBJECT = "Hi {{ subscriber.email }}"


def _rule_files(folder: Path, *ids: str) -> Path:
    folder.mkdir()
    for rule_id in ids:
        data = sequence(rule_id, steps=[{"email": {"subject": SUBJECT, "body": "b"}}])
        (folder / f"{rule_id}.yaml").write_text(json.dumps(data))  # JSON is YAML
    return folder


def test_subjects_render_with_no_connection_held(rt, tenant, tmp_path, monkeypatch):
    emit(rt, tenant.company_id, ORDER)
    emit(rt, tenant.company_id, ORDER, "bob@example.com")
    held: list[int] = []
    real_subject = dryrun._subject

    def observed(*args: Any) -> str:
        held.append(rt.engine.pool.checkedout())  # connections in use while rendering
        return real_subject(*args)

    monkeypatch.setattr(dryrun, "_subject", observed)
    folder = _rule_files(tmp_path / "rules", "welcome")
    result = CliRunner().invoke(
        cli, ["rules", "dry-run", str(folder), "--company", tenant.slug, "--json"], obj=rt
    )
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    details = sorted(r["steps"][0]["detail"] for r in report["results"])
    assert details == ["subject: Hi ana@example.com", "subject: Hi bob@example.com"]
    assert held == [0, 0]


def test_several_sequences_show_progress_on_stderr_only(rt, tenant, tmp_path):
    emit(rt, tenant.company_id, ORDER)
    folder = _rule_files(tmp_path / "rules", "first", "second", "third")
    result = CliRunner().invoke(
        cli, ["rules", "dry-run", str(folder), "--company", tenant.slug, "--json"], obj=rt
    )
    assert result.exit_code == 0, result.output
    assert "simulating" in result.stderr and "rendering subjects" in result.stderr
    reports = json.loads(result.stdout)  # standard output stays parseable
    assert sorted(r["sequence"] for r in reports) == ["first", "second", "third"]
    assert all(r["summary"]["emailsWouldSend"] == 1 for r in reports)


def test_one_sequence_prints_no_progress(rt, tenant, tmp_path):
    emit(rt, tenant.company_id, ORDER)
    folder = _rule_files(tmp_path / "rules", "only")
    result = CliRunner().invoke(
        cli, ["rules", "dry-run", str(folder), "--company", tenant.slug], obj=rt
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "dry-run of only: 1 event(s)" in result.stdout
