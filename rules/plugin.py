"""The rules engine as a plugin: the ``step`` job kind and the event consumer.

Registered through the ``storeflow.plugins`` entry point, like any third-party
plugin, so core never names the rules engine.
"""

from __future__ import annotations

from storeflow.core.commerce.consumers import EventConsumer
from storeflow.core.hookspecs import hookimpl
from storeflow.core.work.jobs import AnyKind
from storeflow.rules.runner import RULES_ENGINE
from storeflow.rules.steps import STEP_JOBS


@hookimpl
def register_job_kinds() -> list[AnyKind]:
    return [STEP_JOBS]


@hookimpl
def register_event_consumers() -> list[EventConsumer]:
    return [RULES_ENGINE]
