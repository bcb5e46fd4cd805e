"""Logging: the standard library's dictConfig, JSON lines naming the company and job."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from storeflow.core import logs
from storeflow.core.storage.tables import Job
from storeflow.core.work import outbox, tasks


class Configure:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stream = io.StringIO()
        self.monkeypatch = monkeypatch

    def __call__(self, level: str, fmt: str) -> io.StringIO:
        # Set here, in the test's call phase: pytest re-installs its own stderr capture
        # between a fixture's setup and the test.
        self.monkeypatch.setattr(sys, "stderr", self.stream)
        logs.configure(level, fmt)
        return self.stream


@pytest.fixture
def configure(monkeypatch) -> Iterator[Configure]:
    """Apply the real configuration with stderr captured; put logging back afterwards."""
    root = logging.getLogger()
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate)
        for name, lg in [("", root)]
        + [(n, logging.getLogger(n)) for n in ("gunicorn.error", "gunicorn.access", "huey")]
    }
    yield Configure(monkeypatch)
    for name, (handlers, level, propagate) in saved.items():
        lg = logging.getLogger(name) if name else root
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_json_line_names_the_company_and_job_it_reports(rt, tenant, other_tenant, configure):
    configured = configure("INFO", "json")
    with rt.unit_of_work() as session:
        # A kind no plugin registers: the worker logs the failure of this very job.
        failing = outbox.add(session, company_id=tenant.company_id, kind="retired", key="k1")
        outbox.add(session, company_id=other_tenant.company_id, kind="retired", key="k2")
    tasks.drain(rt)
    reports = [
        line
        for line in _lines(configured)
        if line["level"] == "ERROR" and line.get("job_id") == failing
    ]
    assert len(reports) == 1, configured.getvalue()
    report = reports[0]
    assert report["company_id"] == tenant.company_id
    assert report["job_kind"] == "retired"
    assert f"job {failing} " in report["message"]
    assert "LookupError" in report["exc"]
    # Outside a job, nothing is claimed for a company.
    logging.getLogger("storeflow.test").warning("between jobs")
    last = _lines(configured)[-1]
    assert last["message"] == "between jobs" and "company_id" not in last and "job_id" not in last
    with rt.unit_of_work() as session:
        assert session.get_one(Job, failing).status == "pending"  # retried later, not lost


def test_text_lines_carry_the_context_and_extra_fields_reach_json(configure):
    configured = configure("WARNING", "text")
    log = logging.getLogger("storeflow.test")
    with logs.job_context(job=41, kind="delivery", company=7):
        log.warning("mapped %s", "an order")
    log.info("below the level")
    log.warning("no job")
    lines = configured.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("storeflow.test [company=7 job=41 delivery]: mapped an order")
    assert lines[1].endswith("storeflow.test: no job")

    configure("INFO", "json")
    log.info("sent", extra={"message_id": "<sf.1.0@storeflow>", "weird": object()})
    line = json.loads(configured.getvalue().splitlines()[-1])
    assert line["message_id"] == "<sf.1.0@storeflow>"
    assert line["weird"].startswith("<object object")


def test_a_bad_level_or_format_is_refused_with_the_setting_named():
    with pytest.raises(logs.BadLogSetting, match="STOREFLOW_LOG_LEVEL"):
        logs.config_dict("LOUD", "text")
    with pytest.raises(logs.BadLogSetting, match="STOREFLOW_LOG_FORMAT"):
        logs.config_dict("INFO", "xml")
    assert logs.config_dict("debug", "json")["root"]["level"] == "DEBUG"
