"""A fault-injection plugin for crash tests, loaded with ``STOREFLOW_PLUGINS``.

On the first attempt of a job of kind ``$STOREFLOW_TEST_PAUSE_KIND`` it writes the
marker file ``$STOREFLOW_TEST_PAUSE_MARKER`` and sleeps, so the test can SIGKILL the
consumer at a known point: after the job was claimed, before its work ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from storeflow.core.hookspecs import hookimpl


@hookimpl
def job_started(kind: str, job_id: int, attempt: int) -> None:
    marker = Path(os.environ["STOREFLOW_TEST_PAUSE_MARKER"])
    if kind != os.environ.get("STOREFLOW_TEST_PAUSE_KIND", "step") or marker.exists():
        return
    marker.write_text(f"{kind} {job_id} {attempt}")
    time.sleep(120)
